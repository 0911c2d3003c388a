"""``mlops-jupyter check | expect | tag | resources`` (#16).

``check DATA --suite NAME``: exit 0 when every rule passes, 1 when a rule fails, 2 on bad
input (unknown suite or dataset, unreadable file), for CI and for the pipeline that receives
new batches.
"""

from __future__ import annotations

import json
from typing import Any

import click

from . import store_option


def _print_check(result: Any) -> None:
    from ._text import table

    click.echo(result.summary())
    shown = result.rules.assign(
        ok=result.rules["passed"].map({True: "ok", False: "FAIL"}),
        examples=result.rules["examples"].map(lambda v: ", ".join(str(x) for x in v[:3])),
    )
    click.echo(table(shown, columns=["ok", "rule", "failed_rows", "detail", "examples"]))


@click.command()
@click.argument("data", metavar="DATA.csv|NAME[@V]")
@click.option(
    "--suite",
    "suite",
    default=None,
    metavar="NAME[@VERSION]",
    help="The suite to check against (default: the one named after the dataset).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def check(ctx: click.Context, data: str, suite: str | None, as_json: bool) -> None:
    """Check a csv/parquet file or a stored dataset against a suite; exit 1 when a rule fails."""
    from ..analysis.suites import check as run_check

    result = run_check(data, suite, store=store_option(ctx))
    if as_json:
        click.echo(json.dumps(result.to_dict(), default=str, indent=2, allow_nan=False))
    else:
        _print_check(result)
    ctx.exit(0 if result.passed else 1)


@click.command()
@click.argument("name", required=False)
@click.option(
    "--set",
    "set_rules",
    multiple=True,
    metavar="RULE",
    help='Add or replace a rule, e.g. --set "age between 0 and 120".',
)
@click.option("--drop", multiple=True, metavar="RULE", help="Remove a rule (its id or text).")
@click.option("--accept", is_flag=True, help="Accept the suite.")
@click.option("--redraft", is_flag=True, help="Draft it again from the latest version's profile.")
@click.option("--by", default=None, metavar="WHO", help="Who made the change (audit trail).")
@click.option("--json", "as_json", is_flag=True, help="Print the suite as JSON.")
@click.pass_context
def expect(
    ctx: click.Context,
    name: str | None,
    set_rules: tuple[str, ...],
    drop: tuple[str, ...],
    accept: bool,
    redraft: bool,
    by: str | None,
    as_json: bool,
) -> None:
    """Show, draft or change the data tests (expectation suite) of a dataset; no NAME lists them."""
    from ..analysis.suites import expect as change
    from ..analysis.suites import expectations
    from ._text import table

    st = store_option(ctx)
    if name is None:
        frame = expectations(store=st)
        if as_json:
            click.echo(frame.to_json(orient="records", indent=2))
        elif frame.empty:
            click.echo("No expectation suites yet. Draft one: mlops-jupyter expect NAME.")
        else:
            click.echo(table(frame))
        return
    suite = change(
        name,
        set=list(set_rules),
        drop=list(drop),
        accept=accept,
        redraft=redraft,
        by=by,
        store=st,
    )
    if as_json:
        click.echo(json.dumps(suite.to_dict(), default=str, indent=2))
        return
    click.echo(f"Suite {suite.name} v{suite.version} ({suite.status}), {len(suite)} rules:")
    click.echo(table(suite.table, columns=["id", "rule", "observed", "source"]))


@click.command()
@click.argument("dataset", metavar="NAME[@VERSION]")
@click.argument("tags", nargs=-1, metavar="KEY=VALUE...")
@click.option("--remove", multiple=True, metavar="KEY", help="Remove a tag.")
@click.option("--by", default=None, metavar="WHO")
@click.pass_context
def tag(
    ctx: click.Context, dataset: str, tags: tuple[str, ...], remove: tuple[str, ...], by: str | None
) -> None:
    """Tag a dataset (every version; NAME@V: one version), e.g. owner=risk pii=true."""
    from ..analysis.tags import tag as set_tags
    from ..magics._args import parse_assignments

    values = {
        k: str(v).lower() if isinstance(v, bool) else v
        for k, v in parse_assignments(list(tags), "tags").items()
    }
    shown = set_tags(dataset, values, remove=list(remove), by=by, store=store_option(ctx))
    click.echo(
        f"{dataset}: " + (", ".join(f"{k}={v}" for k, v in sorted(shown.items())) or "no tags")
    )


@click.command()
@click.argument("run", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.pass_context
def resources(ctx: click.Context, run: str | None, as_json: bool) -> None:
    """What a run cost (the latest run by default): totals, peaks, the five costliest cells."""
    from ..analysis.resources import resources as report
    from ._text import table

    result = report(run, store=store_option(ctx))
    if as_json:
        click.echo(json.dumps(result.to_dict(), default=str, indent=2, allow_nan=False))
        return
    click.echo(result.summary())
    if len(result.cells):
        click.echo(table(result.cells.drop(columns=["execution_id"])))
