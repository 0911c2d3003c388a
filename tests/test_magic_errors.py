"""Every ``%mlops`` subcommand answers bad input with one line that says what to do."""

from __future__ import annotations

from typing import Any

import pytest
from IPython.core.error import UsageError

from mlops_jupyter.magics import SUBCOMMANDS

# Subcommands that take no arguments ignore extras by design; the rest must reject a bogus flag.
TAKES_NO_ARGS = {"status", "on", "off"}


@pytest.mark.parametrize("name", sorted(set(SUBCOMMANDS) - TAKES_NO_ARGS))
def test_bogus_flag_is_a_one_line_usage_error(shell: Any, name: str) -> None:
    with pytest.raises(UsageError) as info:
        shell.run_line_magic("mlops", f"{name} --no-such-flag-xyz")
    message = str(info.value)
    assert "\n" not in message, message
    assert "no-such-flag-xyz" in message or "Usage" in message, message


def test_unknown_subcommand_points_at_help(shell: Any) -> None:
    with pytest.raises(UsageError, match=r"%mlops\?"):
        shell.run_line_magic("mlops", "frobnicate")


def test_unbalanced_quote_is_a_usage_error(shell: Any) -> None:
    with pytest.raises(UsageError, match="quotes"):
        shell.run_line_magic("mlops", "experiment 'unclosed")


def test_a_typo_gets_did_you_mean(shell: Any) -> None:
    with pytest.raises(UsageError, match=r"Did you mean %mlops compare\?"):
        shell.run_line_magic("mlops", "compre")


def test_cli_typo_gets_did_you_mean_and_errors_name_cli_commands(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from mlops_jupyter.cli import cli
    from mlops_jupyter.store import open_store

    out = CliRunner().invoke(cli, ["compre"])
    assert out.exit_code == 2 and "Did you mean 'compare'?" in out.output
    db = tmp_path / "lineage.db"
    open_store(db, shared=False).close()
    out = CliRunner().invoke(cli, ["--store", str(db), "compare", "nope"])
    assert out.exit_code == 2
    assert "`mlops-jupyter runs`" in out.output and "%mlops" not in out.output
