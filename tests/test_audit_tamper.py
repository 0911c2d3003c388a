"""Every tampering of tests/audit_tamperings.py is detected in the modes it claims, and all of
them with the key and an expected head; an untouched copy verifies in every mode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import mlops_jupyter as mj
from mlops_jupyter.store import open_store

from .audit_tamperings import MODES, TAMPERINGS, build_registry, copy_store, detected_in

KEY = "team-secret-for-tests"


@pytest.fixture(scope="module")
def bases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two registries, one written without and one with $MLOPS_JUPYTER_AUDIT_KEY."""
    mp = pytest.MonkeyPatch()
    out: dict[str, Any] = {}
    try:
        for signed in (False, True):
            if signed:
                mp.setenv("MLOPS_JUPYTER_AUDIT_KEY", KEY)
            else:
                mp.delenv("MLOPS_JUPYTER_AUDIT_KEY", raising=False)
            folder = tmp_path_factory.mktemp("signed" if signed else "plain")
            db = build_registry(folder)
            store = open_store(db, shared=False)
            head, n = mj.audit_head(store=store)
            store.close()
            out[signed] = (folder, head, n)
    finally:
        mp.undo()
    return out


def _verify(db: Path, mode: str, head: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    if "key" in mode:
        monkeypatch.setenv("MLOPS_JUPYTER_AUDIT_KEY", KEY)
    else:
        monkeypatch.delenv("MLOPS_JUPYTER_AUDIT_KEY", raising=False)
    store = open_store(db, shared=False)
    try:
        return mj.audit_verify(expect=head if "expect" in mode else None, store=store)
    finally:
        store.close()


@pytest.mark.parametrize("mode", MODES)
def test_untouched_registry_verifies_in_every_mode(bases, tmp_path, mode, monkeypatch) -> None:
    folder, head, n = bases["key" in mode]
    report = _verify(copy_store(folder, tmp_path / "copy"), mode, head, monkeypatch)
    assert report.ok, report.problems
    assert report.n_records == n == 7 and report.head_hash == head


@pytest.mark.parametrize("tampering", TAMPERINGS, ids=[t.name for t in TAMPERINGS])
def test_tampering_is_detected(bases, tmp_path, tampering, monkeypatch) -> None:
    for mode in MODES:
        folder, head, _n = bases["key" in mode]
        db = copy_store(folder, tmp_path / mode)
        tampering.apply(db)
        report = _verify(db, mode, head, monkeypatch)
        if detected_in(tampering, mode):
            assert not report.ok, f"{tampering.name} not detected in mode {mode}"
            assert report.problem and "Audit trail broken" in report.summary()
        else:  # the documented limit: not claimed, and the bench prints it
            assert "key" not in mode or "expect" not in mode


def test_the_key_and_an_expected_head_catch_every_tampering() -> None:
    assert len(TAMPERINGS) >= 20
    assert all(detected_in(t, "key+expect") for t in TAMPERINGS)
