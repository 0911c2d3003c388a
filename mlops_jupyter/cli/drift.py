"""``mlops-jupyter drift REF CUR``: a drift check for CI and scheduled jobs.

Exit codes: 0 no dataset drift, 1 dataset drift, 2 bad input (unreadable file, unknown
column or test, nothing to compare). REF may also name a stored dataset or reference profile.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click

from ..errors import MlopsError
from . import store_option


class BadInput(click.ClickException):
    """One line on stderr, exit code 2 (1 means "drifted")."""

    exit_code = 2


def _read(path: str) -> Any:
    import pandas as pd

    p = Path(path)
    suffix = p.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(p)
        if suffix == ".tsv":
            return pd.read_csv(p, sep="\t")
        return pd.read_csv(p)
    except ImportError as exc:
        raise BadInput(f"Cannot read {path}: {exc}. Install pyarrow to read parquet.") from None
    except Exception as exc:
        raise BadInput(
            f"Cannot read {path} as {'parquet' if 'parq' in suffix else 'csv'}: {exc}. "
            "Pass a .csv or .parquet file."
        ) from None


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _table(report: Any) -> str:
    cols = ["column", "test", "statistic", "p_value", "threshold", "drifted", "psi"]
    rows = [
        [_fmt(r[c]) if c != "drifted" else ("DRIFT" if r[c] else "ok") for c in cols]
        for r in report.columns.to_dict("records")
    ]
    for role, row in (("target", report.target), ("prediction", report.prediction)):
        if row:
            rows.append(
                [f"{row['column']} ({role})"]
                + [
                    _fmt(row[c]) if c != "drifted" else ("DRIFT" if row[c] else "ok")
                    for c in cols[1:]
                ]
            )
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines)


@click.command("drift")
@click.argument("reference")
@click.argument("current")
@click.option("--columns", help="Comma-separated columns to test (default: all in common).")
@click.option("--target", help="The target column (target drift; concept drift with --prediction).")
@click.option("--prediction", help="The prediction column.")
@click.option("--model", help="Link the report to this registered model name.")
@click.option(
    "--test",
    "tests",
    multiple=True,
    help="Override a test: COLUMN=TEST[:THRESHOLD] or TYPE=TEST (numeric/categorical).",
)
@click.option(
    "--drift-share",
    type=float,
    default=0.5,
    show_default=True,
    help="Share of drifted columns from which the dataset drifted.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--save/--no-save",
    default=True,
    show_default=True,
    help="Save the report (and the reference's profile) in the store.",
)
@click.pass_context
def drift(
    ctx: click.Context,
    reference: str,
    current: str,
    columns: str | None,
    target: str | None,
    prediction: str | None,
    model: str | None,
    tests: tuple[str, ...],
    drift_share: float,
    as_json: bool,
    save: bool,
) -> None:
    """Compare CURRENT with REFERENCE (csv or parquet files) column by column.

    Prints the verdict and one line per column. Exit code 0: no dataset drift; 1: dataset
    drift; 2: bad input. REFERENCE may also be a stored dataset or reference profile name.
    """
    from ..analysis.drift import drift as run_drift
    from ..magics.drift import parse_tests

    try:
        store = None
        sides: list[Any] = []
        for path in (reference, current):
            if Path(path).exists():
                sides.append(_read(path))
                continue
            if Path(path).suffix.lower() in (".csv", ".tsv", ".parquet", ".pq") or "/" in path:
                raise BadInput(f"No file {path}. Check the path (csv or parquet files).")
            if store is None:
                store = store_option(ctx)
            sides.append(path)
        if save and store is None:
            store = store_option(ctx)
        report = run_drift(
            sides[0],
            sides[1],
            columns=columns.split(",") if columns else None,
            target=target,
            prediction=prediction,
            model=model,
            tests=parse_tests(list(tests)),
            drift_share=drift_share,
            save=save,
            store=store,
            reference_name=Path(reference).name,
            current_name=Path(current).name,
        )
    except MlopsError as exc:
        raise BadInput(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        verdict = "DRIFT" if report.drifted else "NO DRIFT"
        click.echo(
            f"{verdict}: {report.n_drifted} of {report.n_tested} columns drifted "
            f"({report.share:.0%}; threshold {report.drift_share:.0%}) "
            f"{report.reference} -> {report.current}"
        )
        click.echo(_table(report))
        for note in report.notes:
            click.echo(f"note: {note}")
        if report.performance is not None:
            for r in report.performance.to_dict("records"):
                click.echo(
                    f"performance {r['metric']}: {_fmt(r['reference'])} -> {_fmt(r['current'])}"
                )
    ctx.exit(1 if report.drifted else 0)
