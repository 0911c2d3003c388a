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
    lines = [f"Store: {store.path}", ""]
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
    lines.append(frame[cols].astype(object).fillna("").to_string(index=False))
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
    help="Run in this folder (kept afterwards) instead of a temporary one.",
)
@click.option("--timeout", default=300, show_default=True, help="Seconds per cell.")
@click.pass_context
def demo(ctx: click.Context, workdir: str | None, timeout: int) -> None:
    """Execute the quick-start notebook headlessly and print what the store captured."""
    import nbformat
    from nbclient import NotebookClient

    source = find_quickstart()
    tmp = None
    if workdir is None:
        tmp = tempfile.mkdtemp(prefix="mlops-jupyter-demo-")
        work = Path(tmp)
    else:
        work = Path(workdir).resolve()
        work.mkdir(parents=True, exist_ok=True)
    target = work / QUICKSTART
    shutil.copy(source, target)
    store_file = (ctx.obj or {}).get("store") or str(work / ".mlops" / "lineage.db")
    click.echo(f"Executing {source.name} in {work} ...")
    nb = nbformat.read(target, as_version=4)
    old = os.environ.get("MLOPS_JUPYTER_STORE")
    os.environ["MLOPS_JUPYTER_STORE"] = str(Path(store_file).resolve())
    try:
        NotebookClient(
            nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(work)}}
        ).execute()
    except Exception as exc:
        raise click.ClickException(f"The quick-start notebook failed: {exc}") from None
    finally:
        if old is None:
            os.environ.pop("MLOPS_JUPYTER_STORE", None)
        else:
            os.environ["MLOPS_JUPYTER_STORE"] = old
    nbformat.write(nb, target)
    from ..store import open_store

    store = open_store(store_file, shared=False)
    try:
        click.echo(summarize(store))
    finally:
        store.close()
    if tmp is None:
        click.echo(f"\nThe executed notebook and its store are in {work}.")
    else:
        shutil.rmtree(tmp, ignore_errors=True)


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
    cols = ["run_id", "experiment", "run_name", "status", "started_at", "parent_run_id", "source"]
    params = [c for c in frame.columns if c.startswith("params.")]
    metrics = [c for c in frame.columns if c.startswith("metrics.")]
    cols += (params if all_columns else params[:6]) + metrics
    frame = frame[[c for c in cols if c in frame.columns]].copy()
    frame["started_at"] = frame["started_at"].str.slice(0, 19)
    click.echo(frame.astype(object).fillna("").to_string(index=False))
