"""``%mlops export``: write a reproducible bundle of the current (or a given) run."""

from __future__ import annotations

import warnings
from typing import Any

from ._args import MagicArgumentParser


def export(shell: Any, args: list[str]) -> Any:
    """``%mlops export [RUN] --to DIR [--all]``: returns the :class:`Bundle` (shown as a summary).

    Warnings (a stale run, inputs that changed) are printed as one line each.
    """
    from ..export import export as export_bundle
    from . import SUBCOMMANDS

    parser = MagicArgumentParser("export", usage=SUBCOMMANDS["export"][1].replace("%", "%%"))
    parser.add_argument("run", nargs="?", metavar="RUN")
    parser.add_argument("--to", required=True, metavar="DIR")
    parser.add_argument("--all", action="store_true", dest="keep_all")
    ns = parser.parse(args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bundle = export_bundle(ns.run, to=ns.to, all=ns.keep_all)
    for w in caught:
        print(f"Warning: {w.message}")
    return bundle
