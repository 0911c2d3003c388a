"""Benchmark (#13): how many tamperings of a registry `audit verify` detects, per mode.

Builds a registry (three versions, a policy, two promotions and a failed one) twice, without and
with ``$MLOPS_JUPYTER_AUDIT_KEY``, takes its head with ``audit head``, then applies each
tampering of ``tests/audit_tamperings.py`` to a fresh copy (someone who can write the store
folder and has read our source, but has neither the key nor the head kept outside the store)
and verifies it four ways: plain, ``--expect HEAD``, with the key, with both.

    .venv/bin/python bench/audit_tamper.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import mlops_jupyter as mj  # noqa: E402
from mlops_jupyter.store import open_store  # noqa: E402
from tests.audit_tamperings import MODES, TAMPERINGS, build_registry, copy_store  # noqa: E402

KEY = "bench-audit-key"
ENV = "MLOPS_JUPYTER_AUDIT_KEY"


def _set_key(on: bool) -> None:
    if on:
        os.environ[ENV] = KEY
    else:
        os.environ.pop(ENV, None)


def _verify(db: Path, mode: str, head: str) -> bool:
    _set_key("key" in mode)
    store = open_store(db, shared=False)
    try:
        return not mj.audit_verify(expect=head if "expect" in mode else None, store=store).ok
    finally:
        store.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bases = {}
        for signed in (False, True):
            _set_key(signed)
            folder = root / ("signed" if signed else "plain")
            folder.mkdir()
            db = build_registry(folder)
            store = open_store(db, shared=False)
            bases[signed] = (folder, mj.audit_head(store=store)[0])
            store.close()
        caught = dict.fromkeys(MODES, 0)
        t0 = time.perf_counter()
        rows = []
        for i, t in enumerate(TAMPERINGS):
            marks = []
            for mode in MODES:
                folder, head = bases["key" in mode]
                db = copy_store(folder, root / f"{i}-{mode.replace('+', '-')}")
                t.apply(db)
                hit = _verify(db, mode, head)
                caught[mode] += hit
                marks.append("yes" if hit else "-")
            rows.append((t.name, t.what, marks))
        elapsed = time.perf_counter() - t0
        _set_key(False)
    width = max(len(n) for n, _, _ in rows)
    print(f"{'tampering':<{width}}  " + "  ".join(f"{m:>10}" for m in MODES) + "  what")
    for name, what, marks in rows:
        print(f"{name:<{width}}  " + "  ".join(f"{m:>10}" for m in marks) + f"  {what}")
    n = len(TAMPERINGS)
    print()
    for mode in MODES:
        print(f"detected with {mode:<10}: {caught[mode]:2d} of {n}")
    print(f"({n * len(MODES)} verifications in {elapsed:.1f} s)")
    if caught["key+expect"] != n:
        sys.exit(1)


if __name__ == "__main__":
    main()
