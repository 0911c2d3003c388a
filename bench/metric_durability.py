"""Benchmark (#13): logged points lost when a script is killed, by signal and by delay.

A script logs 20,000 points with ``mj.log_metric`` as fast as it can, prints ``logged`` and
sleeps; the benchmark sends SIGKILL or SIGTERM ``--delay`` seconds after that line, then
counts the points in the store. Also: a notebook-like shell whose cell logs 576 points and is
still running when the kernel is killed. Rounds per case: ``--rounds``.

    .venv/bin/python bench/metric_durability.py [--rounds 5]

Points younger than the flusher's interval (0.5 s) when SIGKILL lands are lost by design.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.test_metric_durability import CELL, SCRIPT  # noqa: E402

N = 20_000


def lost(code: str, n: int, sig: int, delay: float, *args: str) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "lineage.db"
        proc = subprocess.Popen(
            [sys.executable, "-c", code, *args],
            env={**os.environ, "MLOPS_JUPYTER_STORE": str(db)},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "logged"
        time.sleep(delay)
        proc.send_signal(sig)
        proc.wait(timeout=60)
        conn = sqlite3.connect(db)
        stored = conn.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
        conn.close()
        return n - int(stored)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    cases = [
        ("script, SIGKILL at once", SCRIPT, N, signal.SIGKILL, 0.0, (str(N),)),
        ("script, SIGKILL after 0.6 s", SCRIPT, N, signal.SIGKILL, 0.6, (str(N),)),
        ("script, SIGKILL after 1 s", SCRIPT, N, signal.SIGKILL, 1.0, (str(N),)),
        ("script, SIGTERM at once", SCRIPT, N, signal.SIGTERM, 0.0, (str(N),)),
        ("running cell, SIGKILL after 1 s", CELL, 576, signal.SIGKILL, 1.0, ()),
    ]
    for label, code, n, sig, delay, extra in cases:
        losses = [lost(code, n, sig, delay, *extra) for _ in range(args.rounds)]
        print(
            f"{label:<34} lost {min(losses):6d} .. {max(losses):6d} of {n:,} points "
            f"({args.rounds} rounds)"
        )


if __name__ == "__main__":
    main()
