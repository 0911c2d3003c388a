"""Logged points reach the store within about a second whatever happens to the process after
(SIGKILL, SIGTERM, a cell still running), and Ctrl-C during a flush never stores them twice."""

from __future__ import annotations

import _thread
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from mlops_jupyter.capture.session import get_session
from mlops_jupyter.store import open_store

from .conftest import WriteLock, run

pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent(
    """
    import sys, time
    import mlops_jupyter as mj
    mj.start_run("durable")
    for i in range(int(sys.argv[1])):
        mj.log_metric("loss", 1 / (i + 1), step=i)
    print("logged", flush=True)
    time.sleep(60)
    """
)

CELL = textwrap.dedent(
    """
    import sys
    from IPython.core.interactiveshell import InteractiveShell
    sh = InteractiveShell.instance()
    sh.run_line_magic("load_ext", "mlops_jupyter")
    sh.run_cell(
        "import time, mlops_jupyter as mj\\n"
        "for i in range(576):\\n"
        "    mj.log_metric('acc', i / 576, step=i)\\n"
        "print('logged', flush=True)\\n"
        "time.sleep(60)\\n",
        store_history=True,
    )
    """
)


def _start(code: str, store_file: Path, *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env={**os.environ, "MLOPS_JUPYTER_STORE": str(store_file)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "logged", proc.stderr.read() if proc.poll() is not None else line
    return proc


def _points(store_file: Path) -> tuple[int, list[str]]:
    store = open_store(store_file, shared=False, readonly=True)  # a reader of its own
    try:
        n = store.conn.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
        statuses = [r[0] for r in store.conn.execute("SELECT status FROM runs")]
    finally:
        store.close()
    return int(n), statuses


def test_sigkill_a_second_after_logging_loses_no_point(tmp_path: Path) -> None:
    store_file = tmp_path / "lineage.db"
    proc = _start(SCRIPT, store_file, "19000")
    time.sleep(1.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert _points(store_file)[0] == 19_000


def test_sigterm_right_after_logging_loses_no_point_and_fails_the_run(tmp_path: Path) -> None:
    store_file = tmp_path / "lineage.db"
    proc = _start(SCRIPT, store_file, "19000")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == -signal.SIGTERM  # still dies of it
    assert _points(store_file) == (19_000, ["failed"])


def test_a_cell_still_running_has_its_points_stored(tmp_path: Path) -> None:
    store_file = tmp_path / "lineage.db"
    proc = _start(CELL, store_file)
    time.sleep(1.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert _points(store_file)[0] == 576


def test_ctrl_c_during_a_flush_stores_each_point_once(workdir: Path, store_file: Path) -> None:
    import mlops_jupyter as mj

    mj.start_run("interrupted")
    blocker = WriteLock(store_file)  # the flush has to wait for this writer
    for i in range(10):
        mj.log_metric("m", float(i), step=i)
    threading.Timer(0.3, _thread.interrupt_main).start()  # Ctrl-C while the flush waits
    threading.Timer(0.8, blocker.release).start()
    with pytest.raises(KeyboardInterrupt):
        mj.end_run()
    time.sleep(1.5)
    mj.end_run()  # the user's retry
    blocker.close()
    check = open_store(store_file, shared=False)
    assert check.query("SELECT COUNT(*) AS n FROM metrics")[0]["n"] == 10
    check.close()


def test_points_flushed_while_a_cell_runs_belong_to_that_cell(shell, store_file) -> None:
    run(shell, "import time, mlops_jupyter as mj\nn_estimators = 100\nmj.log_metric('a', 1.0)")
    parent = get_session().run_id
    # a changed param after results: this cell belongs to a child run, even the points the
    # background thread wrote (into the parent) before the cell ended
    run(shell, "n_estimators = 200\nfor i in range(5):\n    mj.log_metric('b', i)\ntime.sleep(1.2)")
    child = get_session().run_id
    assert child != parent
    store = get_session().store
    (cell,) = [e for e in store.list_executions(child) if "n_estimators = 200" in e["code"]]
    rows = store.query("SELECT run_id, execution_id FROM metrics WHERE key = 'b'")
    assert rows == [{"run_id": child, "execution_id": cell["id"]}] * 5


def test_a_large_flush_stores_the_times_as_one_point_at_a_time_would() -> None:
    """metric_rows formats 100,000 times with numpy; each must equal iso_utc's text, across
    second boundaries and at the last microsecond of a second."""
    import time

    from mlops_jupyter.store.points import iso_utc, metric_rows

    now = time.time()
    batch = [("loss", i * 0.5, i, now + i * 3.7e-6) for i in range(5000)]
    batch += [("auc", 0.9, None, 1_700_000_000.9999999), ("auc", 0.8, None, 1_700_000_001.0)]
    rows = metric_rows("run", batch, "ann")
    assert rows == [("run", k, s, v, iso_utc(t), None, "ann") for k, v, s, t in batch]
    assert len({r[4][:19] for r in rows}) > 1  # the batch spans seconds


def test_points_written_by_sqlite_read_back_as_the_rows_python_makes(store: Any) -> None:
    """On SQLite the flush binds the points as logged and SQLite makes each row: the same
    run, key, step, value, actor and time text as metric_rows, float times or text ones."""
    import random

    from mlops_jupyter.store.points import metric_rows

    rng = random.Random(7)
    now = time.time()
    points: list[tuple[str, float | None, int | None, Any]] = [
        ("loss", rng.random(), i, now + i * 3.7e-6) for i in range(3000)
    ]
    points += [("auc", 0.9, None, 1_700_000_000.9999999), ("auc", None, 2, 1_700_000_001.0)]
    points += [("auc", 0.7, 3, "2024-01-02T03:04:05.000006+00:00"), ("lr", 1e-300, -1, 0.5)]
    points += [(k, v, s, rng.uniform(0, 4e9)) for k, v, s in [("t", 1.0, 1)] * 500]
    run = store.create_run("exp")["id"]
    first, last = store.insert_points(run, points)
    assert last - first + 1 == len(points)
    got = store.conn.execute(
        "SELECT run_id, key, step, value, logged_at, execution_id, actor FROM metrics "
        "WHERE id BETWEEN ? AND ? ORDER BY id",
        (first, last),
    ).fetchall()
    assert got == metric_rows(run, points, store.actor)
    assert store.latest_metrics(run) == {"loss": points[2999][1], "auc": 0.7, "lr": 1e-300, "t": 1.0}
