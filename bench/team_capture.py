"""Benchmark (#15): capture into the PostgreSQL team store beside the SQLite file, same run.

1. 8 processes x 200 captured cells at once (each a real InteractiveShell with the extension,
   a metric logged per cell), on a new team store and on a new SQLite file: rows lost (every
   process must have one finished run with 200 metric steps and its executions), errors
   (a process that failed, a capture warning on stderr), and wall time.
2. Added time per trivial cell (``x = 1``, IPython's history on): one shell without the
   extension, then with it; on SQLite and on PostgreSQL (the mean per cell, best of 3 batches
   of ``--trivial`` cells, as bench/capture_overhead.py; a fresh process per store). The cell's record is written by the store's writer thread,
   so the time until every write is committed is printed too.

The server is a real local PostgreSQL (tests/pgserver.py, durable: fsync on).

    .venv/bin/python bench/team_capture.py [--procs 8] [--cells 200] [--trivial 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlops_jupyter.store import open_store  # noqa: E402
from tests import pgserver  # noqa: E402
from tests.test_concurrency import KERNEL_LIKE  # noqa: E402

TRIVIAL = textwrap.dedent(
    """
    import json, sys, time
    from IPython.core.interactiveshell import InteractiveShell
    n = int(sys.argv[1])
    sh = InteractiveShell.instance(history_length=1000)

    def cells(k):  # mean seconds per cell, best of 3 batches (as bench/capture_overhead.py)
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            for _ in range(k):
                sh.run_cell("x = 1", store_history=True)
            best = min(best, (time.perf_counter() - t) / k)
        return best

    off = cells(n)
    sh.run_line_magic("load_ext", "mlops_jupyter")
    sh.run_cell("x = 1", store_history=True)  # the first captured cell creates the run
    on = cells(n)
    from mlops_jupyter.capture.session import get_session
    store = get_session().store
    t = time.perf_counter()
    store.wait_for_writes()
    drain = time.perf_counter() - t
    print(json.dumps({"off": off, "on": on, "drain": drain}))
    """
)


def concurrent_cells(location: Any, procs: int, cells: int) -> dict[str, Any]:
    """``procs`` kernels writing ``cells`` cells each at the same moment; what was lost."""
    env = {**os.environ, "MLOPS_JUPYTER_STORE": str(location)}
    start_at = time.time() + 3.0 + procs * 0.3
    running = [
        subprocess.Popen(
            [sys.executable, "-c", KERNEL_LIKE, str(start_at), str(cells)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(procs)
    ]
    errors = 0
    for p in running:
        out, err = p.communicate(timeout=900)
        if p.returncode != 0 or not out.strip().endswith("done") or "Warning" in err:
            errors += 1
            print(f"  process failed: {(err.strip().splitlines() or ['?'])[-1][:200]}")
    wall = time.time() - start_at  # from the moment they all start writing
    store = open_store(location, shared=False)
    try:
        runs = store.list_runs()
        lost = max(0, procs - len(runs))
        for r in runs:
            steps = [m["step"] for m in store.metric_history(r["id"], "m")]
            lost += cells - len(set(steps) & set(range(cells)))
            n_ex = store.query("SELECT COUNT(*) AS n FROM executions WHERE run_id = ?", (r["id"],))
            lost += max(0, cells + 1 - n_ex[0]["n"])
            errors += r["status"] != "finished"
    finally:
        store.close()
    return {"lost": lost, "errors": errors, "wall": wall, "runs": len(runs)}


def trivial_cell(location: Any, n: int) -> dict[str, float]:
    env = {**os.environ, "MLOPS_JUPYTER_STORE": str(location)}
    out = subprocess.run(
        [sys.executable, "-c", TRIVIAL, str(n)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procs", type=int, default=8)
    parser.add_argument("--cells", type=int, default=200)
    parser.add_argument("--trivial", type=int, default=2000)
    args = parser.parse_args()
    server = pgserver.start(durable=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"{args.procs} processes x {args.cells} captured cells at once:")
            for name, location in (
                ("PostgreSQL", server.store_url("bench_concurrent")),
                ("SQLite    ", Path(tmp) / "concurrent" / "lineage.db"),
            ):
                r = concurrent_cells(location, args.procs, args.cells)
                print(
                    f"  {name}: {r['runs']} runs, {r['lost']} rows lost, {r['errors']} errors, "
                    f"{r['wall']:.1f} s wall (2 shared cores)"
                )
            print(f"\nadded time per trivial cell (best of 3 x {args.trivial} cells, history on):")
            results = {}
            for name, location in (
                ("SQLite    ", Path(tmp) / "trivial" / "lineage.db"),
                ("PostgreSQL", server.store_url("bench_trivial")),
            ):
                r = trivial_cell(location, args.trivial)
                results[name] = r
                print(
                    f"  {name}: {1000 * (r['on'] - r['off']):.3f} ms added "
                    f"({1000 * r['off']:.3f} ms without capture, {1000 * r['on']:.3f} ms with); "
                    f"writer thread drained the rest in {r['drain']:.2f} s"
                )
            pg, lite = results["PostgreSQL"], results["SQLite    "]
            print(
                f"  PostgreSQL - SQLite: {1000 * ((pg['on'] - pg['off']) - (lite['on'] - lite['off'])):+.3f} ms "
                "per cell on the kernel's thread"
            )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
