"""``%mlops``: one line magic with subcommands. A thin adapter: parse, call the core, display.

Each subcommand is a function ``handler(shell, args: list[str]) -> object | None`` in a module
of this package, imported on first use; a returned object is displayed. Failures the core
reports on purpose (:class:`~mlops_jupyter.errors.MlopsError`) become exactly
``IPython.core.error.UsageError`` so IPython prints one line and no traceback.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..errors import MlopsError
from ._args import split

# subcommand -> (handler "module:function", usage, one-line summary). %mlops? is built from this.
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "status": (
        "mlops_jupyter.magics.tracking:status",
        "%mlops [status]",
        "where the store is, the current experiment and run, what the last cell captured",
    ),
    "experiment": (
        "mlops_jupyter.magics.tracking:experiment",
        "%mlops experiment NAME",
        "switch to experiment NAME (created on first use) and start a new run in it",
    ),
    "run": (
        "mlops_jupyter.magics.tracking:run",
        "%mlops run [NAME]",
        "end the current run and start a new one",
    ),
    "runs": (
        "mlops_jupyter.magics.tracking:runs",
        "%mlops runs [--experiment NAME]",
        "the runs table: params.* and metrics.* columns, one row per run; a run whose kernel "
        "died reads crashed",
    ),
    "param": (
        "mlops_jupyter.magics.tracking:param",
        "%mlops param KEY=VALUE [KEY=VALUE ...]",
        "log params explicitly on the current run",
    ),
    "metric": (
        "mlops_jupyter.magics.tracking:metric",
        "%mlops metric KEY=VALUE [...] [--step N]",
        "log metrics explicitly (with a step for curves); in the store within a second",
    ),
    "on": ("mlops_jupyter.magics.tracking:on", "%mlops on", "resume capture"),
    "off": (
        "mlops_jupyter.magics.tracking:off",
        "%mlops off",
        "pause capture (a cell starting with `# mlops: skip` is never captured)",
    ),
    "compare": (
        "mlops_jupyter.magics.compare:compare",
        "%mlops compare [RUN ...] [--experiment NAME] [--metric KEY] [--filter QUERY] "
        "[--only-differences] [--diff A B] [--resources]",
        "interactive comparison of runs: table, filter, curves, best run, diff of two runs",
    ),
    "drift": (
        "mlops_jupyter.magics.drift:drift",
        "%mlops drift REFERENCE CURRENT [--columns C,...] [--target COL] [--prediction COL] "
        "[--model NAME] [--test COL=TEST[:THRESHOLD]] [--drift-share X] [--no-save] "
        "| %mlops drift --history [--model NAME]",
        "per-column drift tests (Evidently's defaults, PSI) between two datasets, or over time",
    ),
    "datasets": (
        "mlops_jupyter.magics.datadiff:datasets",
        "%mlops datasets [NAME] [--tag KEY=VALUE ...]",
        "dataset versions with shape, fingerprint, time, producing cell and tags",
    ),
    "tag": (
        "mlops_jupyter.magics.quality:tag",
        "%mlops tag NAME[@VERSION] KEY=VALUE [...] [--remove KEY]",
        "tag a dataset (every version; @V: one): owner=risk pii=true (PII is never snapshotted)",
    ),
    "expect": (
        "mlops_jupyter.magics.quality:expect",
        '%mlops expect [NAME] [--set "age between 0 and 120"] [--drop RULE] [--accept] [--redraft]',
        "data tests of a dataset: drafted from its profile, edited, accepted; versioned, audited",
    ),
    "check": (
        "mlops_jupyter.magics.quality:check",
        "%mlops check DATA [--suite NAME[@VERSION]]",
        "check a DataFrame variable, csv/parquet file or stored dataset against a suite",
    ),
    "resources": (
        "mlops_jupyter.magics.quality:resources",
        "%mlops resources [RUN]",
        "what a run cost: wall, CPU (with workers), peak memory, the five costliest cells",
    ),
    "diff": (
        "mlops_jupyter.magics.datadiff:diff",
        "%mlops diff A B [--key COL[,COL]] [--atol X] [--rtol Y]",
        "what changed between two datasets: schema, rows, values",
    ),
    "export": (
        "mlops_jupyter.magics.export:export",
        "%mlops export [RUN] --to DIR [--all]",
        "write a reproducible run bundle (run.ipynb, manifest, requirements.txt)",
    ),
    "register": (
        "mlops_jupyter.magics.registry:register",
        "%mlops register MODEL_VAR --name NAME [--eval X_VAR Y_VAR] [--train X_VAR] [--by WHO] "
        "[--allow-pickle]",
        "store a fitted model as a new version of NAME (skops file, model card)",
    ),
    "models": (
        "mlops_jupyter.magics.registry:models",
        "%mlops models [NAME] [--history] [--alias ALIAS --at DATE] [--static]",
        "registered models, versions, aliases; --history: who held each alias when",
    ),
    "promote": (
        "mlops_jupyter.magics.registry:promote",
        "%mlops promote NAME VERSION --to ALIAS [--reason TEXT] [--force] [--by WHO]",
        "run promotion gates and move the alias when they pass; a gate missing its data fails "
        "(--force needs --reason and is recorded)",
    ),
    "rollback": (
        "mlops_jupyter.magics.registry:rollback",
        "%mlops rollback NAME ALIAS [--reason TEXT] [--by WHO]",
        "move an alias back to its previous holder",
    ),
    "monitor": (
        "mlops_jupyter.magics.monitor:monitor",
        "%mlops monitor --model NAME --batch VAR|PATH|NAME [--labels COL] [--bundle DIR] "
        "[--policy FILE] [--no-retrain] | %mlops monitor --model NAME --history",
        "check a new batch against the production holder (data tests, drift, metrics or an "
        "estimate); retrain, gate, propose or promote as the policy says; or batches over time",
    ),
    "proposals": (
        "mlops_jupyter.magics.monitor:proposals",
        "%mlops proposals [--model NAME] [--all]",
        "promotion proposals the monitoring loop recorded",
    ),
    "approve": (
        "mlops_jupyter.magics.monitor:approve",
        '%mlops approve ID --reason "..." [--by WHO]',
        "carry out a proposal: the gates run again, the alias moves when they pass",
    ),
    "propose": (
        "mlops_jupyter.magics.monitor:propose",
        "%mlops propose --model NAME --bundle DIR [--policy FILE]",
        "a code update: re-run a changed bundle, gate its model against the champion, propose it",
    ),
    "reject": (
        "mlops_jupyter.magics.monitor:reject",
        '%mlops reject ID --reason "..." [--by WHO]',
        "close a proposal without promoting (audited)",
    ),
}


def _help_text() -> str:
    width = 44
    lines = [
        "MLOps inside the notebook. After `%load_ext mlops_jupyter` every cell is captured:",
        "its code; params (literals, estimator settings as `model.C`, split/CV/search settings);",
        "metrics wherever computed (sklearn.metrics calls, .score(), cross-validation, reports,",
        "searches), assigned or only printed; the data that flows into fits and metrics; every",
        "fitted model. A loop over settings becomes child runs; a search's candidates too.",
        "Each cell's wall and CPU time (workers too) and peak memory are recorded. Data first",
        "used to train a model gets data tests drafted from its profile; every later version",
        "of that dataset is checked off the cell's critical path (one line when a rule fails).",
        'Rules: "age between 0 and 120", "age >= 0", "age not null", "age nulls at most 5%",',
        '"age is integer", "city in [a, b]", "id unique", "rows >= 100", "columns are a, b".',
        "A production model is monitored batch by batch (%mlops monitor): drift, data tests,",
        "metrics or an estimate; triggers retrain it from its bundle, gate it and propose it.",
        "",
        "Subcommands:",
    ]
    for _, usage, summary in SUBCOMMANDS.values():
        if len(usage) <= width:
            lines.append(f"  {usage.ljust(width)}  {summary}")
        else:
            lines.append(f"  {usage}\n  {'':{width}}  {summary}")
    lines += [
        "",
        "Secrets (provider tokens, passwords in URLs, *_KEY/*_TOKEN/password names) are masked",
        "before anything is stored. Models load only scikit-learn/numpy/scipy classes (unless",
        "trusted=[...] names others), after their file's sha256 matched the audit trail.",
        "",
        "Every subcommand has a Python twin: `import mlops_jupyter as mj` (mj.compare, ...).",
        "The store is $MLOPS_JUPYTER_STORE, else .mlops/lineage.db in the working directory;",
        "a postgresql://USER@HOST/DB URL there selects the team store (push/pull: the CLI).",
    ]
    return "\n".join(lines)


def mlops(line: str = "") -> Any:
    from IPython import get_ipython
    from IPython.core.error import UsageError

    shell = get_ipython()
    try:
        args = split(line)
        name = args[0] if args else "status"
        entry = SUBCOMMANDS.get(name)
        if entry is None:
            import difflib

            close = difflib.get_close_matches(name, SUBCOMMANDS, n=1)
            hint = f" Did you mean %mlops {close[0]}?" if close else ""
            raise UsageError(
                f"Unknown %mlops subcommand {name!r}.{hint} Run %mlops? to list the subcommands."
            )
        module_name, _, func = entry[0].partition(":")
        handler = getattr(importlib.import_module(module_name), func)
        return handler(shell, args[1:])
    except MlopsError as exc:
        raise UsageError(str(exc)) from None


def refresh_help() -> None:
    """Rebuild ``%mlops?`` from :data:`SUBCOMMANDS`."""
    mlops.__doc__ = _help_text()


refresh_help()


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magic_function(mlops, magic_kind="line", magic_name="mlops")
    from ..capture import hooks

    hooks.install(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from ..capture import hooks

    hooks.uninstall(ipython)
