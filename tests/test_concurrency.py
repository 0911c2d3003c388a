"""Several processes on one store: no "database is locked", no lost rows, safe after SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from mlops_jupyter.store import open_store
from mlops_jupyter.store.schema import expected_version

pytestmark = pytest.mark.slow

KERNEL_LIKE = textwrap.dedent(
    """
    import sys, time
    from IPython.core.interactiveshell import InteractiveShell
    start_at, n = float(sys.argv[1]), int(sys.argv[2])
    sh = InteractiveShell.instance()
    sh.run_line_magic("load_ext", "mlops_jupyter")
    sh.run_cell("import mlops_jupyter as mj\\nseed = 7", store_history=True)
    time.sleep(max(0.0, start_at - time.time()))
    for i in range(n):
        r = sh.run_cell(f"x = {i} * 2\\nmj.log_metric('m', {i}, step={i})", store_history=True)
        assert r.success, r.error_in_exec
    sh.run_line_magic("unload_ext", "mlops_jupyter")
    from mlops_jupyter.capture.session import get_session
    get_session().end_run()
    print("done")
    """
)


def _env(store_file: Path) -> dict[str, str]:
    return {**os.environ, "MLOPS_JUPYTER_STORE": str(store_file)}


def test_four_kernels_writing_at_once_lose_nothing(tmp_path: Path, store_location: Any) -> None:
    store_file = store_location
    n_procs, n_cells = 4, 200
    start_at = time.time() + 4.0  # every process starts writing at the same moment
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", KERNEL_LIKE, str(start_at), str(n_cells)],
            cwd=tmp_path,
            env=_env(store_file),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(n_procs)
    ]
    outputs = [p.communicate(timeout=240) for p in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err[-2000:]
        assert "locked" not in err.lower()
        assert "could not capture" not in err, err[-2000:]
        assert out.strip().endswith("done")
    store = open_store(store_file, shared=False)
    runs = store.list_runs()
    assert len(runs) == n_procs, [
        (r["name"], r["pid"], r["started_at"], store.run_counts(r["id"])) for r in runs
    ]
    assert len(runs) == n_procs and all(r["status"] == "finished" for r in runs)
    for r in runs:
        ex = store.query("SELECT COUNT(*) AS n FROM executions WHERE run_id = ?", (r["id"],))
        assert ex[0]["n"] == n_cells + 1  # + the import cell
        steps = [m["step"] for m in store.metric_history(r["id"], "m")]
        assert steps == list(range(n_cells))
        assert store.get_params(r["id"]) == {"seed": 7}
    if store.dialect == "sqlite":
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store.close()


WRITER = textwrap.dedent(
    """
    import sys
    from mlops_jupyter.store import open_store
    store = open_store(sys.argv[1], shared=False)
    run = store.create_run("kill")["id"]
    report = open(sys.argv[2], "a", buffering=1)
    i = 0
    while True:
        with store.write():
            ex = store.add_execution(run, code=f"x = {i}", code_hash=str(i), started_at="t",
                                     duration_s=0.0, status="ok")
            store.log_metrics(run, [("m", float(i), i, None)] * 20, execution_id=ex)
            store.log_params(run, {f"p{i % 50}": i}, execution_id=ex)
        i += 1
        report.write(f"{i}\\n")  # written only after the commit returned
    """
)


def test_sigkill_mid_write_leaves_a_sound_store(tmp_path: Path, store_location: Any) -> None:
    store_file = store_location
    open_store(store_file, shared=False).close()  # schema exists; the child only writes
    report = tmp_path / "committed.txt"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(store_file), str(report)],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        lines = report.read_text().split() if report.exists() else []
        if len(lines) >= 300:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    committed = int(report.read_text().split()[-1])
    assert committed >= 300

    store = open_store(store_file, shared=False)
    if store.dialect == "sqlite":
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    n_ex = store.query("SELECT COUNT(*) AS n FROM executions")[0]["n"]
    n_metrics = store.query("SELECT COUNT(*) AS n FROM metrics")[0]["n"]
    # Every reported commit is there; at most the one in flight beyond it, and never half of one.
    assert committed <= n_ex <= committed + 1
    assert n_metrics == 20 * n_ex
    codes = {r["code"] for r in store.query("SELECT code FROM executions")}
    assert {f"x = {i}" for i in range(committed)} <= codes
    store.close()


OPENER = textwrap.dedent(
    """
    import sys, time
    start_at = float(sys.argv[2])
    time.sleep(max(0.0, start_at - time.time()))
    from mlops_jupyter.store import open_store
    store = open_store(sys.argv[1], shared=False)
    store.create_run("race")
    print(store.schema_version)
    """
)


def open_new_store_at_once(store_file: Path, n: int = 4, wait: float = 3.0) -> list[Any]:
    """``n`` processes open the same not-yet-existing store at one instant and create a run;
    their ``(returncode, stdout, stderr)`` (bench/store_stress.py repeats it)."""
    start_at = time.time() + wait
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPENER, str(store_file), str(start_at)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(n)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    return [(p.returncode, out, err) for p, (out, err) in zip(procs, outputs)]


def test_brand_new_store_opened_by_several_processes_at_once(
    store_location: Any, backend: str
) -> None:
    """Ten kernels starting together on a new team store: one upgrades (under the advisory
    lock), the others wait for it and find nothing pending."""
    n = 4 if backend == "sqlite" else 10
    for returncode, out, err in open_new_store_at_once(store_location, n=n):
        assert returncode == 0, err[-2000:]
        assert out.strip() == str(expected_version())
    store = open_store(store_location, shared=False)
    applied = store.query("SELECT migration_set, name FROM _sqlite_migrations")
    assert len(applied) == expected_version()  # each migration ran exactly once
    assert len(store.list_runs()) == n
    store.close()


GIL_AND_CONNECTION = textwrap.dedent(
    """
    import sys, threading
    from mlops_jupyter.store import open_store
    store = open_store(sys.argv[1], shared=False)
    run = store.create_run("exp")["id"]
    def write():
        for i in range(3000):
            with store.write():
                store.log_params(run, {f"p{i}": i})
    writer = threading.Thread(target=write)
    writer.start()
    while writer.is_alive():  # the connection used beside the writer, outside its lock
        store.conn.execute("SELECT 1").fetchone()
    print(len(store.get_params(run)))
    """
)


def test_the_connection_used_beside_a_writing_thread_does_not_deadlock(tmp_path: Path) -> None:
    # Each row's actor was a Python function that SQLite called inside sqlite3_step: it waited
    # for the GIL that a thread waiting for the connection's mutex held, for ever (#18)
    out = subprocess.run(
        [sys.executable, "-c", GIL_AND_CONNECTION, str(tmp_path / "store.db")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["3000"]
