"""``%mlops datasets [NAME]`` and ``%mlops diff A B``: parse, call the core, display."""

from __future__ import annotations

from typing import Any

from ._args import MagicArgumentParser


def datasets(shell: Any, args: list[str]) -> Any:
    from ..analysis.datadiff import datasets as list_versions

    parser = MagicArgumentParser("datasets")
    parser.add_argument("name", nargs="?", default=None, metavar="NAME")
    parser.add_argument("--tag", action="append", default=None, metavar="KEY=VALUE")
    ns = parser.parse(args)
    return list_versions(ns.name, tag=ns.tag)


def diff(shell: Any, args: list[str]) -> Any:
    """A and B: DataFrame variables first, then csv/parquet files, else stored versions."""
    from ..analysis.datadiff import diff as compute

    parser = MagicArgumentParser("diff")
    parser.add_argument("a", metavar="A")
    parser.add_argument("b", metavar="B")
    parser.add_argument("--key", default=None, metavar="COL[,COL]")
    parser.add_argument("--atol", type=float, default=0.0)
    parser.add_argument("--rtol", type=float, default=0.0)
    ns = parser.parse(args)
    a, b = _operand(shell, ns.a), _operand(shell, ns.b)
    return compute(a, b, key=ns.key, atol=ns.atol, rtol=ns.rtol, labels=(ns.a, ns.b))


def _operand(shell: Any, name: str) -> Any:
    """The notebook variable ``name`` (a DataFrame or Series), else a csv/parquet file, else
    the stored version ``name`` refers to."""
    from pathlib import Path

    import pandas as pd

    from ..analysis.datadiff import read_table

    value = (getattr(shell, "user_ns", None) or {}).get(name)
    if isinstance(value, (pd.DataFrame, pd.Series)):
        return value
    if Path(name).suffix.lower() in {".csv", ".tsv", ".parquet", ".pq"} and Path(name).is_file():
        return read_table(name)
    return name
