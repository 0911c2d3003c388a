"""``%mlops drift``: parse, resolve names (notebook variables first, then the store), report."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInput
from ._args import MagicArgumentParser

USAGE = (
    "%mlops drift REFERENCE CURRENT [--columns C,...] [--target COL] [--prediction COL] "
    "[--model NAME] [--test COL=TEST[:THRESHOLD]] [--drift-share X] [--no-save] "
    "| %mlops drift --history [--model NAME]"
)


def _parser() -> MagicArgumentParser:
    p = MagicArgumentParser("drift", usage=USAGE.replace("%", "%%"))
    p.add_argument("reference", nargs="?")
    p.add_argument("current", nargs="?")
    p.add_argument("--columns")
    p.add_argument("--target")
    p.add_argument("--prediction")
    p.add_argument("--model")
    p.add_argument("--test", action="append", default=[])
    p.add_argument("--drift-share", type=float, default=0.5)
    p.add_argument("--no-save", action="store_true")
    p.add_argument("--history", action="store_true")
    return p


def parse_tests(items: list[str]) -> dict[str, Any]:
    """``["age=psi", "numeric=ks:0.01", "city=0.2"]`` -> the ``tests=`` mapping of mj.drift."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, spec = item.partition("=")
        if not sep or not key.strip() or not spec.strip():
            raise InvalidInput(
                f"Expected --test COLUMN=TEST[:THRESHOLD], got {item!r}. "
                "Examples: --test age=psi --test numeric=ks:0.01 --test city=0.2"
            )
        test, _, threshold = spec.strip().partition(":")
        try:
            value: Any = float(test)  # a bare threshold keeps the default test
            out[key.strip()] = value
            continue
        except ValueError:
            pass
        out[key.strip()] = (test, threshold) if threshold else test
    return out


def _lookup(shell: Any, name: str) -> Any:
    """A DataFrame bound to ``name`` in the notebook, else the name (a stored dataset)."""
    ns = getattr(shell, "user_ns", None) or {}
    value = ns.get(name)
    if value is not None and hasattr(value, "columns") and hasattr(value, "dtypes"):
        return value
    return name


def drift(shell: Any, args: list[str]) -> Any:
    from ..analysis.drift import drift as run_drift
    from ..analysis.drift import drift_history

    ns = _parser().parse(args)
    if ns.history:
        if ns.reference or ns.current:
            raise InvalidInput(f"--history takes no datasets. Usage: {USAGE}")
        return drift_history(model=ns.model)
    if not ns.reference or not ns.current:
        raise InvalidInput(f"Name a reference and a current dataset. Usage: {USAGE}")
    return run_drift(
        _lookup(shell, ns.reference),
        _lookup(shell, ns.current),
        columns=ns.columns.split(",") if ns.columns else None,
        target=ns.target,
        prediction=ns.prediction,
        model=ns.model,
        tests=parse_tests(ns.test),
        drift_share=ns.drift_share,
        save=not ns.no_save,
        reference_name=ns.reference,
        current_name=ns.current,
    )
