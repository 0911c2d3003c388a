"""``mlops-jupyter demo`` and ``mlops-jupyter runs``."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import click

from ..errors import InvalidInput
from . import store_option
from ._text import table

QUICKSTART = "quickstart.ipynb"


def find_quickstart() -> Path:
    """The quick-start notebook: in the source tree, else ``./example_notebooks``."""
    here = Path(__file__).resolve().parent.parent.parent / "example_notebooks" / QUICKSTART
    for candidate in (here, Path.cwd() / "example_notebooks" / QUICKSTART):
        if candidate.exists():
            return candidate
    raise InvalidInput(
        f"Cannot find example_notebooks/{QUICKSTART}. "
        "Run the demo from a checkout of mlops-jupyter (or its example_notebooks folder's parent)."
    )


def summarize(store: Any) -> str:
    """Text summary of what a store holds: runs, then counts of every kind of fact."""
    frame = store.compare_frame()
    lines = [f"Store: {store.display}", ""]
    if frame.empty:
        lines.append("No runs captured.")
        return "\n".join(lines)
    cols = [
        c
        for c in ["run_name", "run_id", "status", "parent_run_id", "source", "experiment"]
        if c in frame.columns
    ]
    cols += [c for c in frame.columns if c.startswith("metrics.")]
    params = [c for c in frame.columns if c.startswith("params.")]
    lines.append(f"Runs ({len(frame)}):")
    lines.append(table(frame[cols]))
    lines.append("")
    counts = store.totals()
    lines.append("Captured: " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items()))
    lines.append(
        f"Params per run: {len(params)} keys ({', '.join(p[7:] for p in params[:8])}{', ...' if len(params) > 8 else ''})"
    )
    datasets = store.list_datasets()
    if datasets:
        names = sorted({f"{d['name']}@{d['version']}" for d in datasets})
        lines.append(f"Datasets: {', '.join(names[:12])}{', ...' if len(names) > 12 else ''}")
    models = store.list_models()
    if models:
        lines.append(
            "Models: "
            + ", ".join(
                f"{m['name']} ({m['class_name'].rsplit('.', 1)[-1]}, {m['fingerprint'][:8]})"
                for m in models
            )
        )
    edges = store.lineage_kinds()
    lines.append(
        "Lineage: "
        + ", ".join(f"{e['src_type']} -{e['relation']}-> {e['dst_type']}: {e['n']}" for e in edges)
    )
    return "\n".join(lines)


@click.command()
@click.option(
    "--dir",
    "workdir",
    type=click.Path(file_okay=False),
    help="Run in this folder (kept afterwards) instead of a temporary one. "
    "An existing quickstart.ipynb there is never overwritten.",
)
@click.option("--timeout", default=300, show_default=True, help="Seconds per cell.")
@click.pass_context
def demo(ctx: click.Context, workdir: str | None, timeout: int) -> None:
    """Execute the quick-start notebook headlessly and print what the store captured.

    The notebook records into its own store, FOLDER/.mlops/lineage.db, never into
    $MLOPS_JUPYTER_STORE (it may be your real store); an explicit --store is used as given.
    """
    import nbformat
    from nbclient import NotebookClient
    from tqdm.auto import tqdm

    from ..export.execute import QUIET_KERNEL

    source = find_quickstart()
    tmp = tempfile.mkdtemp(prefix="mlops-jupyter-demo-") if workdir is None else None
    work = Path(tmp) if tmp is not None else Path(workdir or ".").resolve()
    try:
        target = _copy_quickstart(source, work)
        store_file = _demo_store(ctx, work)
        click.echo(f"Executing {source.name} in {work} ...")
        nb = nbformat.read(target, as_version=4)
        cells = sum(c.cell_type == "code" for c in nb.cells)
        with tqdm(total=cells, desc=source.name, unit="cell") as bar:
            client = NotebookClient(
                nb,
                timeout=timeout,
                kernel_name="python3",
                resources={"metadata": {"path": str(work)}},
                extra_arguments=QUIET_KERNEL,
                on_cell_executed=lambda **_: bar.update(1),
            )
            try:
                client.execute(env=_demo_env(store_file))
            except Exception as exc:
                raise click.ClickException(f"The quick-start notebook failed: {exc}") from None
        nbformat.write(nb, target)
        from ..store import open_store

        store = open_store(store_file, shared=False)
        try:
            click.echo(summarize(store))
        finally:
            store.close()
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    if tmp is None:
        click.echo(f"\nThe executed notebook and its store are in {work}.")


def _copy_quickstart(source: Path, work: Path) -> Path:
    """Copy the notebook into ``work``; refuse to replace a different file of the same name."""
    target = work / QUICKSTART
    try:
        work.mkdir(parents=True, exist_ok=True)
        if target.exists() and target.read_bytes() != source.read_bytes():
            raise InvalidInput(
                f"{target} already exists and differs from the quick-start notebook. "
                "Move it away or pick another --dir: the demo never overwrites a notebook."
            )
        shutil.copy(source, target)
    except OSError as exc:
        raise InvalidInput(
            f"Cannot write the demo into {work}: {exc.strerror or exc}. "
            "Give --dir a folder you can write to."
        ) from None
    return target


def _demo_store(ctx: click.Context, work: Path) -> Path:
    """``--store`` when typed on the command line, else the demo folder's own store."""
    from click.core import ParameterSource

    group = ctx.parent
    if group is not None and group.get_parameter_source("store") is ParameterSource.COMMANDLINE:
        return Path(group.params["store"]).resolve()
    return work / ".mlops" / "lineage.db"


def _demo_env(store_file: Path) -> dict[str, str]:
    """The kernel's environment: this store, and none of the caller's run settings."""
    env = dict(os.environ)
    for name in ("EXPERIMENT", "PARENT_RUN", "RUN_ID", "SOURCE"):
        env.pop(f"MLOPS_JUPYTER_{name}", None)
    env["MLOPS_JUPYTER_STORE"] = str(store_file)
    env["MLOPS_JUPYTER_SOURCE"] = "headless"  # the notebook names its own experiment
    return env


@click.command()
@click.option("--experiment", help="Only runs of this experiment.")
@click.option("--all-columns", is_flag=True, help="Show every params.* column.")
@click.pass_context
def runs(ctx: click.Context, experiment: str | None, all_columns: bool) -> None:
    """List runs with their params and latest metrics, newest first."""
    store = store_option(ctx)
    frame = store.compare_frame(experiment)
    if frame.empty:
        click.echo("No runs yet. Run a notebook with `%load_ext mlops_jupyter` first.")
        return
    params = [c for c in frame.columns if c.startswith("params.")]
    metrics = [c for c in frame.columns if c.startswith("metrics.")]
    # what tells runs apart first; a narrow terminal drops the columns on the right
    cols = ["run_id", "run_name", "status", *metrics, *(params if all_columns else params[:6])]
    cols += ["experiment", "started_at", "parent_run_id", "source"]
    frame = frame[[c for c in cols if c in frame.columns]]
    click.echo(table(frame))
