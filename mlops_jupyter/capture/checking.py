"""The checker thread's work for one cell (see :mod:`.quality`): check, draft, store, say so."""

from __future__ import annotations

import sys
from typing import Any

from .quality import CellAfter, DatasetNote, note_suite, show_late


def handle(after: CellAfter) -> None:
    from ..analysis.checks import check_frame
    from ..analysis.expectations import suite_from_row
    from ..analysis.suites import draft_suite
    from ..display.expectations import check_line_html, drafted_line_html

    store = after.store
    store.wait_for_writes()  # the cell's own record (its dataset versions) is committed
    html: list[str] = []
    text: list[str] = []
    for note in after.datasets:
        if note.gone:
            continue
        row = store.find_suite(note.name)
        if row is None:
            continue
        note_suite(store, note.name, row["version"])
        if row["based_on"] == note.fingerprint and row["change"] in ("draft", "redraft"):
            continue  # the data the suite was just drafted from
        if store.find_check(note.fingerprint, note.name, row["version"]) is not None:
            continue
        version = store.find_version_number(note.name, note.fingerprint)
        label = f"{note.name}@{version}" if version is not None else note.name
        result = check_frame(
            note.obj, suite_from_row(row), dataset=label, fingerprint=note.fingerprint
        )
        if not _unchanged(note):
            continue  # edited in place while being checked: the result would be about neither
        _store_result(after, result, note, version)
        if not result.passed:
            command = f"mj.check({note.name}) or %mlops check {note.name}"
            html.append(check_line_html(result, command))
            text.append("✗ " + result.summary())
    for name in sorted(after.trained):
        note = next((n for n in after.datasets if n.name == name and not n.gone), None)
        if note is None or store.find_suite(name) is not None:
            continue
        suite = draft_suite(store, name, fingerprint=note.fingerprint)
        note_suite(store, name, suite.version)
        html.append(drafted_line_html(suite))
        text.append(
            f"mlops-jupyter drafted {len(suite.rules)} data tests for {name} from its profile; "
            f"review them with %mlops expect {name}."
        )
    if html:
        show_late(after, "".join(html), "\n".join(text))


def _unchanged(note: DatasetNote) -> bool:
    """Whether the object still holds the content that was recorded (pandas with copy-on-write
    was snapshotted by the cell; anything else is fingerprinted again)."""
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(note.obj, (pd.DataFrame, pd.Series)) and note.snapshot:
        return True
    from .fingerprint import fingerprint

    try:
        return fingerprint(note.obj) == note.fingerprint
    except Exception:
        return False


def _store_result(after: CellAfter, result: Any, note: DatasetNote, version: int | None) -> None:
    from ..analysis.suites import record_result

    def write(store: Any) -> None:
        record_result(
            store,
            result,
            name=note.name,
            version=version,
            run_id=after.run_id,
            execution_id=after.execution_id,
        )

    def failed(exc: BaseException) -> None:
        after.session.quality_failures.append(("store a data test result", exc))

    after.store.write_later(write, failed)
