"""``%mlops expect``, ``%mlops check``, ``%mlops tag`` and ``%mlops resources`` (#16)."""

from __future__ import annotations

from typing import Any

from ._args import MagicArgumentParser, parse_assignments


def expect(shell: Any, args: list[str]) -> Any:
    """Show (drafting it if needed) or change the suite of a dataset; no name lists suites."""
    from ..analysis.suites import expect as change
    from ..analysis.suites import expectations
    from ..capture import quality

    parser = MagicArgumentParser("expect")
    parser.add_argument("name", nargs="?", default=None, metavar="NAME")
    parser.add_argument("--set", action="append", default=[], metavar="RULE", dest="set_rules")
    parser.add_argument("--drop", action="append", default=[], metavar="RULE")
    parser.add_argument("--accept", action="store_true")
    parser.add_argument("--redraft", action="store_true")
    parser.add_argument("--by", default=None, metavar="WHO")
    ns = parser.parse(args)
    if ns.name is None:
        if ns.set_rules or ns.drop or ns.accept or ns.redraft:
            parser.error("say which suite: %mlops expect NAME --set RULE")
        return expectations()
    quality.wait(5.0)  # a suite the last cells are drafting
    suite = change(
        ns.name, set=ns.set_rules, drop=ns.drop, accept=ns.accept, redraft=ns.redraft, by=ns.by
    )
    quality.note_suite(suite_store(), suite.name, suite.version)
    return suite


def suite_store() -> Any:
    from ..capture.session import get_session

    return get_session().store


def check(shell: Any, args: list[str]) -> Any:
    """Check a notebook variable, a csv/parquet file or a stored dataset against a suite."""
    from ..analysis.suites import check as run_check

    parser = MagicArgumentParser("check")
    parser.add_argument("data", metavar="DATA")
    parser.add_argument("--suite", default=None, metavar="NAME[@VERSION]")
    ns = parser.parse(args)
    value = (getattr(shell, "user_ns", None) or {}).get(ns.data)
    import numpy as np
    import pandas as pd

    data: Any = ns.data
    if isinstance(value, (pd.DataFrame, pd.Series, np.ndarray)):
        data = value
    suite = ns.suite
    if suite is None and data is not ns.data:
        from ..analysis.suites import expectations

        names = expectations()["name"].tolist()
        suite = ns.data if ns.data in names else None
    return run_check(data, suite)


def tag(shell: Any, args: list[str]) -> Any:
    """``%mlops tag NAME[@V] KEY=VALUE ... [--remove KEY]``; no assignments: show the tags."""
    from ..analysis.tags import tag as set_tags

    parser = MagicArgumentParser("tag")
    parser.add_argument("dataset", metavar="NAME[@VERSION]")
    parser.add_argument("tags", nargs="*", metavar="KEY=VALUE")
    parser.add_argument("--remove", action="append", default=[], metavar="KEY")
    parser.add_argument("--by", default=None, metavar="WHO")
    ns = parser.parse(args)
    values = {k: _text(v) for k, v in parse_assignments(ns.tags, "tags").items()}
    return TagView(ns.dataset, set_tags(ns.dataset, values, remove=ns.remove, by=ns.by))


def _text(value: Any) -> Any:
    return value if not isinstance(value, bool) else ("true" if value else "false")


class TagView:
    def __init__(self, name: str, tags: dict[str, str]) -> None:
        self.name, self.tags = name, tags

    def __repr__(self) -> str:
        if not self.tags:
            return f"{self.name}: no tags"
        return f"{self.name}: " + ", ".join(f"{k}={v}" for k, v in sorted(self.tags.items()))

    def _repr_html_(self) -> str:
        from ..display.html import esc, panel

        chips = "".join(
            f'<span class="mlops-badge">{esc(k)}={esc(v)}</span>'
            for k, v in sorted(self.tags.items())
        )
        return panel(f"Tags: {self.name}", chips or '<span class="mlops-muted">no tags</span>')


def resources(shell: Any, args: list[str]) -> Any:
    from ..analysis.resources import resources as report

    parser = MagicArgumentParser("resources")
    parser.add_argument("run", nargs="?", default=None, metavar="RUN")
    ns = parser.parse(args)
    from ..capture.session import get_session

    get_session().store.wait_for_writes()
    return report(ns.run)
