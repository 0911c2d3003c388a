"""Suites in the store: draft, change, accept, read, and check data against them (issue #16).

The Python twins of ``%mlops expect`` / ``%mlops check`` and of the CLI: ``mj.expect``,
``mj.expectations``, ``mj.check``. Every stored change is a new suite version and an audit
record (actions ``expect_draft``, ``expect_change``, ``expect_accept``, ``expect_redraft``)
appended to the registry's hash-chained trail in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import DatasetNotFound, InvalidInput, NotFound
from .checks import CheckResult, check_frame
from .expectations import Rule, Suite, apply_changes, draft_rules, suite_from_row

_SUITE_REF = re.compile(r"^(?P<name>.+?)@(?P<version>\d+)$")
SUITE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$")


def _store(store: Any) -> Any:
    if store is None:
        from ..capture.session import get_session

        return get_session().store
    if isinstance(store, (str, Path)):
        from ..store import open_store

        return open_store(store)
    return store


def _who(by: str | None) -> str:
    from ..registry.audit import current_user

    return current_user(by)


def rules_digest(rules: Sequence[Rule]) -> str:
    text = json.dumps([r.to_dict() for r in rules], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not SUITE_NAME.match(name.strip()):
        raise InvalidInput(
            f"{name!r} is not a suite name. A suite is named after the dataset it tests "
            "(letters, digits, '_', '.', '-'), e.g. mj.expect('train')."
        )
    return name.strip()


def _save(
    st: Any,
    name: str,
    rules: Sequence[Rule],
    *,
    status: str,
    change: str,
    action: str,
    reason: str,
    by: str | None,
    based_on: str | None = None,
) -> Suite:
    who = _who(by)
    row = st.add_suite_version(
        name,
        [r.to_dict() for r in rules],
        status=status,
        change=change,
        based_on=based_on,
        created_by=who,
        audit={
            "action": action,
            "who": who,
            "name": name,
            "reason": reason[:2000],
            "gates": json.dumps(
                {
                    "suite_status": status,
                    "n_rules": len(rules),
                    "rules_sha256": rules_digest(rules),
                },
                sort_keys=True,
            ),
        },
    )
    return suite_from_row(row, st.suite_history(name))


def draft_suite(
    store: Any, name: str, *, fingerprint: str | None = None, by: str | None = None
) -> Suite:
    """Draft and store suite ``name`` from the profile of dataset ``name`` (its latest version,
    or the version with ``fingerprint``)."""
    st = _store(store)
    ref = st.resolve_dataset(name)  # DatasetNotFound names the fix
    if fingerprint and ref["fingerprint"] != fingerprint:
        content = st.get_dataset_content(fingerprint)
        ref = {**ref, **content}
    rules = draft_rules(
        ref.get("profile") or {},
        ref.get("schema") or {},
        ref.get("n_rows"),
        ref.get("kind") or "dataframe",
    )
    if not rules:
        raise InvalidInput(
            f"Dataset {name!r} has no profile to draft data tests from. Set rules yourself: "
            f"%mlops expect {name} --set 'rows >= 1'."
        )
    return _save(
        st,
        name,
        rules,
        status="draft",
        change="draft",
        action="expect_draft",
        reason=f"drafted {len(rules)} rules from the profile of {ref['name']}@{ref['version']}",
        by=by or "mlops-jupyter",
        based_on=ref["fingerprint"],
    )


def expectations(name: str | None = None, version: int | None = None, store: Any = None) -> Any:
    """Suite ``name`` (its latest version, or ``version``) as a :class:`Suite`; without a name,
    a DataFrame of every suite's latest version."""
    st = _store(store)
    if name is None:
        rows = st.list_suites()
        return pd.DataFrame(
            [
                {
                    "name": r["name"],
                    "version": r["version"],
                    "status": r["status"],
                    "rules": len(r["rules"]),
                    "change": r["change"],
                    "created_by": r["created_by"],
                    "created_at": r["created_at"],
                }
                for r in rows
            ],
            columns=["name", "version", "status", "rules", "change", "created_by", "created_at"],
        )
    name, version = _split_ref(name, version)
    return suite_from_row(st.get_suite(name, version), st.suite_history(name))


def _split_ref(name: str, version: int | None) -> tuple[str, int | None]:
    m = _SUITE_REF.match(str(name))
    if m and version is None:
        return m.group("name"), int(m.group("version"))
    return str(name), version


def expect(
    name: str,
    *,
    set: Sequence[str] | str = (),
    drop: Sequence[str] | str = (),
    accept: bool = False,
    redraft: bool = False,
    by: str | None = None,
    store: Any = None,
) -> Suite:
    """Change suite ``name`` (drafting it from the dataset's profile first when there is none):
    ``set`` rules (replacing those of the same id), ``drop`` rules (by id or text), ``accept``
    the suite, or ``redraft`` it from the latest version's profile. Returns the new version."""
    name = _check_name(name)
    st = _store(store)
    set_rules = [set] if isinstance(set, str) else list(set)
    drops = [drop] if isinstance(drop, str) else list(drop)
    current = st.find_suite(name)
    if current is None or redraft:
        if current is None and not _has_dataset(st, name):
            if not set_rules:
                raise NotFound(
                    f"No dataset or suite named {name!r}. Capture the data first (assign it in "
                    "a captured cell), or start a suite with rules: "
                    f"%mlops expect {name} --set 'rows >= 1'. List datasets with "
                    "`%mlops datasets`."
                )
            suite = None
        elif current is not None:
            ref = st.resolve_dataset(name)
            rules = draft_rules(
                ref.get("profile") or {},
                ref.get("schema") or {},
                ref.get("n_rows"),
                ref.get("kind") or "dataframe",
            )
            suite = _save(
                st,
                name,
                rules,
                status="draft",
                change="redraft",
                action="expect_redraft",
                reason=f"redrafted {len(rules)} rules from {ref['name']}@{ref['version']}",
                by=by,
                based_on=ref["fingerprint"],
            )
        else:
            suite = draft_suite(st, name, by=by)
    else:
        suite = suite_from_row(current)
    if set_rules or drops:
        base = list(suite.rules) if suite is not None else []
        rules, changes = apply_changes(base, set_rules, drops)
        status = (
            "accepted"
            if accept or (suite is not None and suite.status == "accepted")
            else ("draft")
        )
        suite = _save(
            st,
            name,
            rules,
            status=status,
            change="change",
            action="expect_change",
            reason="; ".join(changes) + ("; accepted" if accept else ""),
            by=by,
            based_on=suite.based_on if suite is not None else None,
        )
    elif accept and suite is not None and suite.status != "accepted":
        suite = _save(
            st,
            name,
            list(suite.rules),
            status="accepted",
            change="accept",
            action="expect_accept",
            reason=f"accepted {len(suite.rules)} rules",
            by=by,
            based_on=suite.based_on,
        )
    assert suite is not None
    return expectations(name, suite.version, store=st)


def _has_dataset(st: Any, name: str) -> bool:
    try:
        st.resolve_dataset(name)
    except DatasetNotFound:
        return False
    return True


# -- checking -----------------------------------------------------------------------------------


def resolve_suite(st: Any, suite: Any) -> Suite:
    if isinstance(suite, Suite):
        return suite
    if not isinstance(suite, str) or not suite.strip():
        raise InvalidInput(
            f"suite must be a suite name (optionally NAME@VERSION) or a Suite, not {suite!r}."
        )
    name, version = _split_ref(suite.strip(), None)
    return suite_from_row(st.get_suite(name, version))


def check(
    data: Any, suite: Any = None, *, store: Any = None, save: bool | None = None
) -> CheckResult:
    """Check ``data`` against ``suite`` and return the result as data (nothing is raised for
    bad data). ``data``: a DataFrame, Series or array, a csv/parquet path, or a stored dataset
    (``NAME``, ``NAME@V``) with rows (a snapshot or its unchanged source file). ``suite``: a
    name, ``NAME@VERSION`` or a :class:`Suite`; by default the suite named after the dataset.
    ``save``: record the result (default: when the data is a stored dataset version)."""
    st = _store(store)
    frame, ref, label = load_data(st, data)
    if suite is None:
        suite = _default_suite(st, data, ref)
    resolved = resolve_suite(st, suite)
    _readable(frame, resolved, label)
    fp = ref["fingerprint"] if ref else _fingerprint(frame)
    result = check_frame(frame, resolved, dataset=label, fingerprint=fp)
    if save is None:
        save = ref is not None
    if save:
        record_result(
            st, result, name=ref["name"] if ref else None, version=ref["version"] if ref else None
        )
    return result


def _fingerprint(frame: Any) -> str | None:
    from ..capture.fingerprint import fingerprint

    try:
        return fingerprint(frame)
    except Exception:
        return None


def _readable(frame: Any, suite: Any, label: str | None) -> None:
    """Bad input, not a failed check: data with none of the columns the suite's rules name (a
    binary file read as csv, the wrong file)."""
    wanted = {str(r.column) for r in suite.rules if r.column is not None}
    present = {str(c) for c in getattr(frame, "columns", [])}
    if wanted and present and not wanted & present:
        shown = ", ".join(sorted(wanted)[:5])
        raise InvalidInput(
            f"{label or 'The data'} has none of the columns the suite checks ({shown}). Is it "
            "the right file, and a readable csv or parquet?"
        )


def load_data(st: Any, data: Any) -> tuple[Any, dict[str, Any] | None, str | None]:
    """``(rows, stored version row or None, label)`` for what :func:`check` accepts."""
    import numpy as np

    if isinstance(data, (pd.DataFrame, pd.Series, np.ndarray)):
        fp = _fingerprint(data)
        ref = st.find_dataset_by_fingerprint(fp) if fp else None
        label = f"{ref['name']}@{ref['version']}" if ref else None
        return data, ref, label
    if isinstance(data, Path) or (
        isinstance(data, str) and Path(data).suffix.lower() in (".csv", ".tsv", ".parquet", ".pq")
    ):
        from .datadiff import read_table

        if not Path(data).is_file():
            raise InvalidInput(f"No file {data}. Give a csv or parquet file, or NAME[@VERSION].")
        return read_table(data), None, str(data)
    if isinstance(data, str):
        from .datadiff import _load_rows

        ref = st.resolve_dataset(data)
        try:
            frame = _load_rows(st, ref, data)
        except Exception as exc:
            raise InvalidInput(
                f"{data} has a profile but no stored rows to check ({exc}). Check the csv or "
                "parquet file itself, or the DataFrame in the notebook (mj.check(df))."
            ) from None
        return frame, ref, f"{ref['name']}@{ref['version']}"
    raise InvalidInput(
        f"Cannot check a {type(data).__name__}. Pass a DataFrame, Series, array, a csv/parquet "
        "path or a stored dataset NAME[@VERSION]."
    )


def _default_suite(st: Any, data: Any, ref: dict[str, Any] | None) -> str:
    names = []
    if ref is not None:
        names = [r["name"] for r in st.find_dataset_versions([ref["fingerprint"]])]
    for name in dict.fromkeys(names):
        if st.find_suite(name) is not None:
            return str(name)
    raise InvalidInput(
        "Say which suite to check against: mj.check(df, suite='NAME') (list suites with "
        "`%mlops expect`). This data is not a recorded dataset that has one."
    )


def record_result(
    st: Any,
    result: CheckResult,
    *,
    name: str | None,
    version: int | None,
    run_id: str | None = None,
    execution_id: int | None = None,
) -> int:
    """Store a check, and tag the dataset version with its quality."""
    with st.write():
        check_id = st.record_check(
            fingerprint=result.fingerprint or "",
            name=name,
            version=version,
            suite=result.suite,
            suite_version=result.suite_version,
            passed=result.passed,
            n_rows=result.n_rows,
            n_rules=len(result.rules),
            n_failed_rules=result.n_failed_rules,
            n_failed_rows=result.n_failed_rows,
            result=result.to_dict(),
            duration_s=result.duration_s,
            run_id=run_id,
            execution_id=execution_id,
        )
        if name is not None and version is not None:
            st.set_dataset_tags(
                name,
                {
                    "quality.tests": "passed" if result.passed else "failed",
                    "quality.suite": f"{result.suite} v{result.suite_version}",
                },
                version=int(version),
                kind="quality",
            )
    return int(check_id)
