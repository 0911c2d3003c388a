"""``%mlops compare``: the comparison panel (or the diff of two runs) for the current experiment."""

from __future__ import annotations

from typing import Any

from ._args import MagicArgumentParser


def compare(shell: Any, args: list[str]) -> Any:
    """``%mlops compare [RUN ...] [--experiment NAME] [--metric KEY] [--filter Q] [--diff A B]``.

    Returns the interactive panel (its output also carries the static HTML, so the comparison
    survives in a saved notebook), or with ``--diff`` the :class:`RunDiff` of two runs.
    """
    from ..analysis.compare import compare as compare_runs
    from . import SUBCOMMANDS

    # One-line usage in errors (argparse would wrap it); % is argparse's format character.
    parser = MagicArgumentParser("compare", usage=SUBCOMMANDS["compare"][1].replace("%", "%%"))
    parser.add_argument("runs", nargs="*", metavar="RUN")
    parser.add_argument("--experiment", "-e", metavar="NAME")
    parser.add_argument("--metric", "-m", metavar="KEY")
    parser.add_argument("--filter", "-f", dest="query", metavar="QUERY")
    # unset: on when more than one run is shown
    parser.add_argument("--only-differences", action="store_true", default=None)
    parser.add_argument("--diff", nargs=2, metavar=("A", "B"))
    parser.add_argument("--resources", action="store_true")
    ns = parser.parse(args)
    result = compare_runs(
        ns.runs or None, experiment=ns.experiment, metric=ns.metric, resources=ns.resources
    )
    if ns.diff:
        return result.diff(*ns.diff)
    if ns.query:
        result.filter(ns.query)  # a bad query is a one-line error here, not in the panel
    # The filter and the toggle start in the panel's controls, where the user can change them.
    return result.panel(query=ns.query or "", only_differences=ns.only_differences)
