"""``mlops-jupyter``: the command line, a thin click adapter over the core.

Commands live in modules of this package and are imported only when invoked, so
``mlops-jupyter --help`` stays fast. :class:`~mlops_jupyter.errors.MlopsError` becomes a
``click.ClickException`` (one line, exit code 1); commands that report a verdict (``drift``,
``verify``, ``promote``, ``audit verify``) choose their own exit codes.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from ..errors import MlopsError

# command -> ("module:attribute", short help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": (
        "mlops_jupyter.cli.tracking:demo",
        "Execute the quick-start notebook headlessly and print what was captured.",
    ),
    "runs": ("mlops_jupyter.cli.tracking:runs", "List runs with their params and latest metrics."),
    "compare": (
        "mlops_jupyter.cli.compare:compare",
        "Compare runs: table, best run, diff of two runs.",
    ),
    "drift": (
        "mlops_jupyter.cli.drift:drift",
        "Drift between two csv/parquet files; exit 1 when drifted.",
    ),
    "diff": (
        "mlops_jupyter.cli.datadiff:diff",
        "What changed between two datasets (files or stored versions).",
    ),
    "datasets": ("mlops_jupyter.cli.datadiff:datasets", "List dataset versions."),
    "export": (
        "mlops_jupyter.cli.export:export",
        "Export a run or notebook into a reproducible bundle.",
    ),
    "run": (
        "mlops_jupyter.cli.export:run",
        "Execute a bundle headlessly (with -p overrides or --grid sweeps).",
    ),
    "verify": (
        "mlops_jupyter.cli.export:verify",
        "Re-run a bundle or run and check its results reproduce.",
    ),
    "models": (
        "mlops_jupyter.cli.registry:models",
        "List registered models, versions and aliases.",
    ),
    "promote": ("mlops_jupyter.cli.registry:promote", "Run promotion gates and move an alias."),
    "rollback": (
        "mlops_jupyter.cli.registry:rollback",
        "Move an alias back to its previous holder.",
    ),
    "audit": ("mlops_jupyter.cli.registry:audit", "Audit trail of the registry (audit verify)."),
    "push": (
        "mlops_jupyter.cli.team:push",
        "Copy this store into a team store (postgresql://...); again adds nothing.",
    ),
    "pull": ("mlops_jupyter.cli.team:pull", "Copy a team store into this one, to work offline."),
    "sql": ("mlops_jupyter.cli.team:sql", "Run a read-only SQL query on the store."),
    "check": (
        "mlops_jupyter.cli.quality:check",
        "Check a csv/parquet file or stored dataset against its data tests; exit 1 on failure.",
    ),
    "expect": (
        "mlops_jupyter.cli.quality:expect",
        "Show, draft or change a dataset's data tests (expectation suite).",
    ),
    "tag": ("mlops_jupyter.cli.quality:tag", "Tag a dataset, e.g. owner=risk pii=true."),
    "monitor": (
        "mlops_jupyter.cli.monitor:monitor",
        "Check a new batch against a model's production holder; retrain, gate, propose.",
    ),
    "proposals": ("mlops_jupyter.cli.monitor:proposals", "List promotion proposals."),
    "approve": (
        "mlops_jupyter.cli.monitor:approve",
        "Carry out a promotion proposal (gates run again).",
    ),
    "reject": ("mlops_jupyter.cli.monitor:reject", "Close a promotion proposal."),
    "propose": (
        "mlops_jupyter.cli.monitor:propose",
        "Re-run a changed bundle and propose its model against the champion.",
    ),
    "resources": (
        "mlops_jupyter.cli.quality:resources",
        "What a run cost: wall, CPU, peak memory, the five costliest cells.",
    ),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            import difflib

            close = difflib.get_close_matches(cmd_name, COMMANDS, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise click.UsageError(
                f"No such command {cmd_name!r}.{hint} See mlops-jupyter --help.", ctx
            )
        module_name, _, attr = entry[0].partition(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Help from the table: listing commands must not import every module.
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name][1]) for name in self.list_commands(ctx)])

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MlopsError as exc:
            # Exit 2, like click's usage errors: 1 is kept for "the check failed" (drifted,
            # not reproduced, gates failed, audit broken), so a pipeline can tell them apart.
            raise _BadInput(for_terminal(str(exc))) from None


def for_terminal(message: str) -> str:
    """A core message as the CLI says it: `%mlops runs` becomes `mlops-jupyter runs` where
    the CLI has that command."""
    import re

    def swap(match: re.Match[str]) -> str:
        word = match.group(1)
        return f"mlops-jupyter {word}" if word in COMMANDS else match.group(0)

    return re.sub(r"%mlops (\w+)", swap, message)


class _BadInput(click.ClickException):
    exit_code = 2


@click.group(cls=LazyGroup)
@click.version_option(package_name="mlops-jupyter")
@click.option(
    "--store",
    envvar="MLOPS_JUPYTER_STORE",
    help="The lineage store: a file, or a team store's postgresql://USER@HOST:PORT/DB URL "
    "(default: $MLOPS_JUPYTER_STORE, else .mlops/lineage.db).",
)
@click.pass_context
def cli(ctx: click.Context, store: str | None) -> None:
    """MLOps inside the notebook: the lineage store from the command line."""
    ctx.obj = {"store": store}


# Commands that only read: a store path that does not exist is a typo, not a new store.
READ_ONLY = frozenset(
    {"runs", "compare", "models", "audit", "datasets", "resources", "sql", "proposals"}
)
# Commands that write to a store that must already exist (a typo is not a new store).
EXISTING = READ_ONLY | {"check", "expect", "tag", "monitor", "approve", "reject", "propose"}


def store_option(ctx: click.Context) -> Any:
    """The store the user chose with ``--store`` (or the configured default)."""
    from ..config import store_location
    from ..errors import StoreError
    from ..store import open_store

    chosen = (ctx.obj or {}).get("store")
    words = ctx.command_path.split()
    readonly = len(words) > 1 and words[1] in READ_ONLY
    location = store_location(chosen)
    existing = len(words) > 1 and words[1] in EXISTING
    if existing and not isinstance(location, str) and not location.exists():
        raise StoreError(
            f"No lineage store at {location}. Check --store or $MLOPS_JUPYTER_STORE, "
            "or run from the folder that holds .mlops/."
        )
    # read-only commands never write: an old store is not upgraded, a read-only folder works
    return open_store(chosen, readonly=readonly)


def main() -> None:
    cli(prog_name="mlops-jupyter")
