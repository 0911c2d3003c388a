"""``mlops-jupyter push``, ``pull`` and ``sql``: the team store and a look inside any store."""

from __future__ import annotations

from typing import Any

import click

from ..errors import InvalidInput
from . import store_option


def _open(location: str, *, what: str) -> Any:
    from ..store import open_store

    if not location:
        raise InvalidInput(f"Say which store to {what}, e.g. postgresql://USER@HOST:PORT/DB.")
    return open_store(location, shared=False)


_experiments = click.option(
    "--experiment",
    "experiments",
    multiple=True,
    help="Copy only these experiments' runs (repeat; default: everything).",
)


@click.command()
@click.option("--to", "target", required=True, help="The team store: postgresql://USER@HOST/DB.")
@_experiments
@click.pass_context
def push(ctx: click.Context, target: str, experiments: tuple[str, ...]) -> None:
    """Copy this store's experiments, runs, datasets, models, registry and audit trail into
    TARGET. Ids and timestamps are kept; pushing again adds nothing."""
    from ..store.transfer import copy_store

    source = store_option(ctx)
    dest = _open(target, what="push to")
    try:
        report = copy_store(source, dest, experiments=experiments or None)
    finally:
        dest.close()
    click.echo(report.summary())


@click.command()
@click.option("--from", "origin", required=True, help="The team store: postgresql://USER@HOST/DB.")
@_experiments
@click.pass_context
def pull(ctx: click.Context, origin: str, experiments: tuple[str, ...]) -> None:
    """Copy the team store at ORIGIN into this store (--store), to work offline. Pulling
    again adds only what is new there."""
    from ..store.transfer import copy_store

    source = _open(origin, what="pull from")
    target = store_option(ctx)
    try:
        report = copy_store(source, target, experiments=experiments or None)
    finally:
        source.close()
    click.echo(report.summary())


@click.command()
@click.argument("query")
@click.option("--json", "as_json", is_flag=True, help="Rows as JSON instead of a table.")
@click.pass_context
def sql(ctx: click.Context, query: str, as_json: bool) -> None:
    """Run one read-only SQL QUERY on the store and print the rows (tables and the browse_*
    views are listed by `mlops-jupyter sql tables`)."""
    import json

    from ..store.browse import read_only_query
    from ._text import table

    store = store_option(ctx)
    rows = read_only_query(store, query)
    if as_json:
        click.echo(json.dumps(rows, default=str, indent=1))
        return
    if not rows:
        click.echo("No rows.")
        return
    import pandas as pd

    click.echo(table(pd.DataFrame(rows)))
