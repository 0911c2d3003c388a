"""``mlops-jupyter compare``: the runs table, the best run and the diff of two runs as text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..errors import InvalidInput
from . import store_option


@click.command("compare")
@click.argument("runs", nargs=-1, metavar="[RUN ...]")
@click.option("--experiment", "-e", metavar="NAME", help="Runs of this experiment.")
@click.option("--metric", "-m", metavar="KEY", help="Sort by this metric and show the best run.")
@click.option(
    "--direction",
    type=click.Choice(["max", "min"]),
    help="Whether a larger or smaller --metric is better (default: guessed from its name).",
)
@click.option("--filter", "-f", "query", metavar="QUERY", help='e.g. "metrics.auc > 0.8".')
@click.option(
    "--only-differences",
    is_flag=True,
    help="Hide params equal across the runs (the default with more than one run).",
)
@click.option("--all-params", is_flag=True, help="Show every param, estimator defaults included.")
@click.option(
    "--resources", is_flag=True, help="Show what each run cost (wall, CPU, peak memory, cost)."
)
@click.option("--group-by", metavar="PARAM", help="Mean and std of metrics per value of PARAM.")
@click.option("--diff", nargs=2, metavar="A B", help="What differs between two runs.")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the comparison (or diff) as a static HTML file.",
)
@click.pass_context
def compare(
    ctx: click.Context,
    runs: tuple[str, ...],
    experiment: str | None,
    metric: str | None,
    direction: str | None,
    query: str | None,
    only_differences: bool,
    all_params: bool,
    resources: bool,
    group_by: str | None,
    diff: tuple[str, str] | None,
    html_path: Path | None,
) -> None:
    """Compare runs: the table (params and latest metrics), the best run, groups, a diff.

    Without RUNs, the runs of --experiment (default: the experiment with the latest run).
    Everything is computed (and --html written) before anything is printed, so a bad option
    gives one error line, not half a report.
    """
    from ..analysis.compare import compare as compare_runs

    if direction and not metric:
        raise InvalidInput(
            "--direction needs --metric: it says whether a larger or smaller value of that "
            "metric is better. Add the metric, e.g. -m auc --direction max."
        )
    store = store_option(ctx)
    result = compare_runs(
        list(runs) or None, experiment=experiment, metric=metric, store=store, resources=resources
    )
    if diff:
        run_diff = result.diff(*diff)
        _write_html(html_path, run_diff)
        _print_diff(run_diff)
        _echo_written(html_path)
        return
    if query:
        result = result.filter(query)
    if all_params:
        result = result.all_params()
    elif only_differences or len(result) > 1:  # as the panel: what tells the runs apart
        result = result.only_differences()
    if direction and metric:
        result = result.sort(result.metric_column(metric), ascending=direction == "min")
    best = result.best(metric, direction) if metric and len(result) else None
    groups = result.groups(group_by) if group_by else None
    _write_html(html_path, result)
    scope = f"experiment {result.experiment}" if result.experiment else "named runs"
    click.echo(f"{len(result)} runs ({scope})" + (f", filter: {query}" if query else ""))
    if len(result):
        shown = result.table
        first = ["run_name", *(c for c in shown.columns if c.startswith(("metrics.", "params.")))]
        rest = [c for c in shown.columns if c not in first and c != "started_at"]
        frame = shown[first + rest]  # what tells the runs apart first, names without prefix
        bare = [c.split(".", 1)[1] if c.startswith(("metrics.", "params.")) else c for c in frame]
        if len(set(bare)) == len(bare):
            frame = frame.set_axis(bare, axis=1)
        click.echo(_text(frame))
        hidden = len(result.params) - len(result.shown_params())
        if hidden:
            click.echo(f"({hidden} params equal across these runs hidden; --all-params shows them)")
    if best is not None:
        column = result.metric_column(metric)
        click.echo(
            f"best by {column} ({direction or result.direction}): "
            f"{best['run_name']} ({best['run_id']}) = {best[column]:.4g}"
        )
    if groups is not None:
        click.echo(f"\ngroups by {group_by}:")
        click.echo(_text(groups))
    _echo_written(html_path)


def _text(frame: Any) -> str:
    from ._text import table

    return table(frame)


def _print_diff(d: Any) -> None:
    click.echo(f"a = {d.run_a['name']} ({d.run_a['id']}), b = {d.run_b['name']} ({d.run_b['id']})")
    sections = [
        ("params changed", d.params),
        ("metrics", d.metrics.drop(columns=["a_execution_id", "b_execution_id"])),
        ("cells whose code differs", d.cells.drop(columns=["diff"])),
        ("datasets that differ", d.datasets),
        ("packages that differ", d.packages),
    ]
    for title, frame in sections:
        click.echo(f"\n{title} ({len(frame)}):")
        click.echo(_text(frame) if len(frame) else "  none")
    for record in d.cells.to_dict("records"):
        if record["diff"]:
            click.echo("\n" + record["diff"])


def _write_html(path: Path | None, result: Any) -> None:
    if path is None:
        return
    page = "<!doctype html><meta charset='utf-8'>" + result.to_html()
    try:
        path.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(
            f"Cannot write {path}: {exc.strerror or exc}. "
            "Give --html a file path in a folder you can write to."
        ) from None


def _echo_written(path: Path | None) -> None:
    if path is not None:
        click.echo(f"wrote {path}")
