"""The README and %mlops? stay true to the code: every command and subcommand is documented."""

from __future__ import annotations

import pytest

from mlops_jupyter.cli import COMMANDS
from mlops_jupyter.magics import SUBCOMMANDS, mlops

from .conftest import ROOT

README = (ROOT / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_cli_command_in_readme(name: str) -> None:
    assert f"mlops-jupyter {name}" in README


@pytest.mark.parametrize("name", sorted(set(SUBCOMMANDS) - {"status"}))
def test_magic_subcommand_in_readme_and_help(name: str) -> None:
    assert f"%mlops {name}" in README
    assert f"%mlops {name}" in (mlops.__doc__ or "")


def test_cli_modules_import() -> None:
    """Every command in the table resolves to a real click command."""
    import click

    from mlops_jupyter.cli import cli

    ctx = click.Context(cli)
    for name in COMMANDS:
        assert isinstance(cli.get_command(ctx, name), click.Command), name
