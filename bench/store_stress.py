"""Benchmark (#13): several processes creating a brand-new store at the same moment, N rounds.

Each round starts 4 processes that wait for the same instant, then open a store file that does
not exist yet and create a run in it (``tests/test_concurrency.py``'s new-store test). A round
fails when a process exits non-zero (refused the store, locked, ...), when the schema version
differs, when a migration ran twice, or when a run is missing.

    .venv/bin/python bench/store_stress.py [--rounds 50] [--procs 4]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlops_jupyter.store import open_store  # noqa: E402
from mlops_jupyter.store.schema import expected_version  # noqa: E402
from tests.test_concurrency import open_new_store_at_once  # noqa: E402


def one_round(folder: Path, procs: int) -> str | None:
    """None when the round went right, else what went wrong (first line)."""
    store_file = folder / "new" / "lineage.db"
    for returncode, out, err in open_new_store_at_once(store_file, procs, wait=1.5):
        if returncode != 0:
            lines = [ln for ln in err.strip().splitlines() if ln.strip()]
            return (lines[-1] if lines else f"exit {returncode}")[:160]
        if out.strip() != str(expected_version()):
            return f"schema version {out.strip()!r}"
    store = open_store(store_file, shared=False)
    try:
        applied = store.query("SELECT COUNT(*) AS n FROM _sqlite_migrations")[0]["n"]
        runs = len(store.list_runs())
    finally:
        store.close()
    if applied != expected_version():
        return f"{applied} migrations applied, not {expected_version()}"
    if runs != procs:
        return f"{runs} runs, not {procs}"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--procs", type=int, default=4)
    args = parser.parse_args()
    failures: Counter[str] = Counter()
    t0 = time.perf_counter()
    for i in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            problem = one_round(Path(tmp), args.procs)
        if problem:
            failures[problem] += 1
            print(f"round {i + 1}: {problem}", flush=True)
    n_failed = sum(failures.values())
    print(
        f"{n_failed} failures in {args.rounds} rounds of {args.procs} processes opening a "
        f"brand-new store at once ({time.perf_counter() - t0:.0f} s)"
    )
    sys.exit(1 if n_failed else 0)


if __name__ == "__main__":
    main()
