"""``mlops-jupyter export / run / verify``: bundles from the command line (and in CI).

Exit codes of ``verify``: 0 reproduced, 1 not reproduced, 2 an input file changed (or the
bundle could not run at all).
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path
from typing import Any

import click

from ..errors import ExportError, InputChanged, InvalidInput
from . import store_option


class _Exit2(click.ClickException):
    exit_code = 2


def _assignments(items: tuple[str, ...], what: str) -> dict[str, Any]:
    from ..magics._args import parse_assignments

    return parse_assignments(list(items), what)


def _grid(items: tuple[str, ...]) -> dict[str, list[Any]]:
    """``("lr=0.01,0.1", "depth=3,5")`` -> ``{"lr": [0.01, 0.1], "depth": [3, 5]}``."""
    import ast

    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip().isidentifier() or not raw.strip():
            raise InvalidInput(
                f"Expected --grid KEY=V1,V2,..., got {item!r}. Example: --grid lr=0.01,0.1"
            )
        values: list[Any] = []
        for text in raw.split(","):
            try:
                values.append(ast.literal_eval(text.strip()))
            except (ValueError, SyntaxError):
                values.append(text.strip())
        grid[key.strip()] = values
    return grid


@click.command("export")
@click.argument("target", metavar="NOTEBOOK.ipynb|RUN_ID")
@click.option(
    "--to",
    "to",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The bundle folder to write (created; an existing bundle is overwritten).",
)
@click.option("--all", "keep_all", is_flag=True, help="Keep cells that fed no result, too.")
@click.option(
    "--rel-tol",
    type=float,
    default=1e-6,
    show_default=True,
    help="Relative tolerance for metrics in verify.",
)
@click.option(
    "--abs-tol",
    type=float,
    default=1e-9,
    show_default=True,
    help="Absolute tolerance for metrics in verify.",
)
@click.option(
    "--copy-inputs/--no-copy-inputs",
    default=None,
    help="Copy input files into the bundle (default: when they total <= 50 MB).",
)
@click.pass_context
def export(
    ctx: click.Context,
    target: str,
    to: Path,
    keep_all: bool,
    rel_tol: float,
    abs_tol: float,
    copy_inputs: bool | None,
) -> None:
    """Export a run (or a notebook's latest run) into a reproducible bundle."""
    from ..export import export as export_bundle

    store = store_option(ctx)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bundle = export_bundle(
            target,
            to=to,
            all=keep_all,
            store=store,
            rel_tol=rel_tol,
            abs_tol=abs_tol,
            copy_inputs=copy_inputs,
        )
    for w in caught:
        click.echo(f"warning: {w.message}", err=True)
    m = bundle.manifest
    click.echo(
        f"Wrote {bundle.path}: {len(m['cells'])} cell(s) of {m['cells_total']}, "
        f"{len(m['metrics'])} metric(s), {len(m['inputs'])} input file(s); "
        f"reproducibility: {m['reproducibility']['status']}."
    )
    if m["parameters"]:
        click.echo("Params: " + ", ".join(f"{k}={v!r}" for k, v in m["parameters"].items()))


@click.command("run")
@click.argument("bundle", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a param of the parameters cell (repeatable).",
)
@click.option(
    "--grid",
    "grid",
    multiple=True,
    metavar="KEY=V1,V2",
    help="Sweep: one run per combination of all --grid values (repeatable).",
)
@click.option(
    "--jobs",
    "-j",
    type=int,
    default=1,
    show_default=True,
    help="Sweep runs executed at once (local processes, or the local Dask cluster's workers).",
)
@click.option(
    "--executor",
    type=click.Choice(["local", "dask"]),
    default="local",
    show_default=True,
    help="Where sweep runs execute: local processes, or a Dask cluster.",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="tcp://HOST:8786",
    help="With --executor dask: the cluster's scheduler (default: a new LocalCluster).",
)
@click.option(
    "--data-root",
    type=click.Path(file_okay=False),
    default=None,
    help="Run in this folder instead of the bundle's data root.",
)
@click.pass_context
def run(
    ctx: click.Context,
    bundle: Path,
    params: tuple[str, ...],
    grid: tuple[str, ...],
    jobs: int,
    executor: str,
    scheduler: str | None,
    data_root: str | None,
) -> None:
    """Execute a bundle headlessly in a fresh kernel; each execution is a captured run."""
    from ..export import run_bundle, sweep

    store = store_option(ctx)
    overrides = _assignments(params, "params")
    if not grid:
        result = run_bundle(bundle, overrides, store=store, data_root_dir=data_root)
        metrics = ", ".join(f"{k}={v:.6g}" for k, v in result.metrics.items() if v is not None)
        click.echo(f"Run {result.run_id}: {metrics or 'no metrics'}. Notebook: {result.notebook}")
        return

    def done(r: Any) -> None:
        state = "ok" if r.ok else f"failed: {r.error}"
        click.echo(f"  {r.params} -> run {r.run_id} {state}", err=True)

    if scheduler and executor != "dask":
        raise click.UsageError("--scheduler needs --executor dask.")
    with contextlib.ExitStack() as stack:
        pool = None
        if executor == "dask":
            from ..export.executors import dask_executor

            click.echo(f"Starting the sweep on Dask ({scheduler or 'a local cluster'})", err=True)
            pool = stack.enter_context(dask_executor(scheduler, workers=max(jobs, 2)))
        result = sweep(
            bundle,
            _grid(grid),
            params=overrides,
            jobs=jobs,
            store=store,
            executor=pool,
            data_root_dir=data_root,
            on_done=done,
        )
    click.echo(result.to_frame().to_string(index=False))
    if not result.ok:
        raise click.ClickException(
            f"{sum(not r.ok for r in result.runs)} of {len(result.runs)} sweep runs failed. "
            "Open their executed notebooks under the bundle's runs/ folder."
        )


@click.command("verify")
@click.argument("target", metavar="DIR|RUN_ID")
@click.option("--rel-tol", type=float, default=None, help="Override the manifest's rel tolerance.")
@click.option("--abs-tol", type=float, default=None, help="Override the manifest's abs tolerance.")
@click.option(
    "--data-root",
    type=click.Path(file_okay=False),
    default=None,
    help="Run in this folder instead of the bundle's data root.",
)
@click.pass_context
def verify(
    ctx: click.Context,
    target: str,
    rel_tol: float | None,
    abs_tol: float | None,
    data_root: str | None,
) -> None:
    """Re-run a bundle (or a run) and check its metrics and datasets reproduce.

    Exit 0 reproduced, 1 not reproduced, 2 input data changed or the bundle failed to run.
    """
    from ..export import verify as verify_bundle

    store = store_option(ctx)
    try:
        result = verify_bundle(
            target, store=store, rel_tol=rel_tol, abs_tol=abs_tol, data_root_dir=data_root
        )
    except (InputChanged, ExportError) as exc:
        raise _Exit2(str(exc)) from None
    click.echo(result.to_text())
    if not result.reproduced:
        ctx.exit(1)
