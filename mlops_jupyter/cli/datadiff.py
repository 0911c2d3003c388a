"""``mlops-jupyter diff A B`` and ``mlops-jupyter datasets [NAME]``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..errors import InvalidInput
from . import store_option

SAMPLE = 10


@click.command()
@click.argument("a")
@click.argument("b")
@click.option("--key", default=None, metavar="COL[,COL]", help="Key columns to align rows on.")
@click.option("--atol", type=float, default=0.0, show_default=True, help="Absolute tolerance.")
@click.option("--rtol", type=float, default=0.0, show_default=True, help="Relative tolerance.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="Write the HTML report.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def diff(
    ctx: click.Context,
    a: str,
    b: str,
    key: str | None,
    atol: float,
    rtol: float,
    html_path: str | None,
    as_json: bool,
) -> None:
    """What changed from A to B: csv/parquet files or stored versions (name@3, name@latest).

    Exit code 0 whatever the differences; use --json to script on the counts.
    """
    from ..analysis.datadiff import diff as compute
    from ..analysis.datadiff import read_table

    operands: list[Any] = []
    needs_store = False
    for ref in (a, b):
        if Path(ref).is_file():
            operands.append(read_table(ref))
        else:
            operands.append(ref)
            needs_store = True
    store = store_option(ctx) if needs_store else False
    result = compute(
        operands[0], operands[1], key=key, atol=atol, rtol=rtol, store=store, labels=(a, b)
    )
    if html_path:
        page = f"<!doctype html><meta charset='utf-8'><title>diff</title>{result.to_html()}"
        try:
            Path(html_path).write_text(page, encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(
                f"Cannot write {html_path}: {exc.strerror or exc}. "
                "Give --html a file path in a folder you can write to."
            ) from None
    if as_json:
        click.echo(json.dumps(result.summary, default=str))
        return
    click.echo(describe(result))


def _shown(v: Any) -> str:
    """A changed cell for people: rounded numbers, quoted text."""
    from ._text import value

    if isinstance(v, str):
        return repr(v)
    if isinstance(v, float) and v.is_integer():
        return f"{v:.1f}"  # a float stays a float: 9.0, not 9
    return value(v) or "NaN"


def describe(result: Any) -> str:
    """The diff as plain text: counts, schema, changed cells per column, a sample."""
    s = result.summary
    lines = [f"{result.a_label} -> {result.b_label}"]
    how = f"key {', '.join(map(str, result.key))}" if result.key else "no key (whole rows)"
    lines.append(f"  rows: {s['rows_a']} -> {s['rows_b']} ({how})")
    counts = [f"added {s['added']}", f"removed {s['removed']}"]
    if s["changed"] is not None:
        counts.append(f"changed {s['changed']}")
    counts.append(f"unchanged {s['unchanged']}")
    if s.get("duplicate_keys"):
        counts.append(f"duplicate keys {s['duplicate_keys']}")
    lines.append("  " + ", ".join(counts))
    for r in result.schema.to_dict("records"):
        if r["change"] == "renamed":
            lines.append(f"  column {r['before']} renamed to {r['after']}")
        elif r["change"] == "dtype":
            lines.append(f"  column {r['column']} dtype {r['before']} -> {r['after']}")
        else:
            lines.append(f"  column {r['column']} {r['change']}")
    changed = result.column_changes[result.column_changes > 0].sort_values(ascending=False)
    if len(changed):
        lines.append(
            "  changed cells per column: " + ", ".join(f"{c}={n}" for c, n in changed.items())
        )
    if len(result.changed):
        lines.append(f"  first changed cells (of {len(result.changed)}):")
        for row in result.changed.head(SAMPLE).to_dict("records"):
            keys = ", ".join(f"{k}={row[k]}" for k in result.key)
            before, after = (_shown(row[k]) for k in ("before", "after"))
            lines.append(f"    [{keys}] {row['column']}: {before} -> {after}")
    return "\n".join(lines)


@click.command()
@click.argument("name", required=False)
@click.option(
    "--tag",
    "tags",
    multiple=True,
    metavar="KEY[=VALUE]",
    help="Only versions with this tag (repeat: all must hold), e.g. --tag pii=true.",
)
@click.pass_context
def datasets(ctx: click.Context, name: str | None, tags: tuple[str, ...]) -> None:
    """List dataset versions (all, or those of NAME) with their tags."""
    from ..analysis.datadiff import datasets as list_versions

    frame = list_versions(name, store=store_option(ctx), tag=list(tags) or None)
    if frame.empty:
        click.echo("No datasets match those tags." if tags else "No datasets recorded yet.")
        return
    shown_tags = frame["tags"].map(
        lambda t: ", ".join(
            f"{k}={v}"
            for k, v in sorted(t.items())
            if k.split(".")[0] not in ("source", "quality") or k in ("source", "quality.tests")
        )
    )
    view = frame.assign(fingerprint=frame["fingerprint"].str[:12], tags=shown_tags)[
        ["name", "version", "rows", "cols", "fingerprint", "created_at", "cell", "snapshot", "tags"]
    ]
    from ._text import table

    click.echo(table(view))
