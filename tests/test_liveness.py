"""A run whose process is gone reads ``crashed`` (mj.runs, %mlops runs, the store, the API);
a live one, another host's, or a pid reused by another process are told apart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import mlops_jupyter as mj
from mlops_jupyter.store import open_store

pytestmark = pytest.mark.slow

KERNEL = textwrap.dedent(
    """
    import time
    from IPython.core.interactiveshell import InteractiveShell
    sh = InteractiveShell.instance()
    sh.run_line_magic("load_ext", "mlops_jupyter")
    sh.run_cell("import mlops_jupyter as mj\\nx = 1", store_history=True)
    sh.run_cell("print(mj.active_run().id, flush=True)", store_history=True)
    time.sleep(60)
    """
)


def test_a_killed_kernels_run_reads_crashed(workdir: Path, store_file: Path, shell) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", KERNEL],
        env={**os.environ, "MLOPS_JUPYTER_STORE": str(store_file)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    killed = proc.stdout.readline().strip()
    store = open_store(store_file, shared=False)
    assert store.get_run(killed)["status"] == "running"  # alive: still running
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    shell.run_cell("y = 2", store_history=True)  # this kernel's own run, alive
    mine = mj.active_run().id
    assert store.get_run(killed)["status"] == "crashed"
    assert {r["id"]: r["status"] for r in store.list_runs()} == {
        killed: "crashed",
        mine: "running",
    }
    table = mj.runs().set_index("run_id")["status"]
    assert table[killed] == "crashed" and table[mine] == "running"
    magic = shell.run_line_magic("mlops", "runs").set_index("run_id")["status"]
    assert magic[killed] == "crashed"
    assert store.runs_frame().set_index("run_id")["status"][killed] == "crashed"
    fresh = open_store(store_file, shared=False, readonly=True)
    stored = fresh.conn.execute("SELECT status FROM runs WHERE id = ?", (killed,)).fetchone()[0]
    fresh.close()
    assert stored == "running"  # read as crashed, nothing written
    store.close()


def test_reused_pid_and_other_hosts(store) -> None:
    run = store.create_run("e")["id"]
    assert store.get_run(run)["status"] == "running"
    store.conn.execute("UPDATE runs SET process = 'another-boot:1' WHERE id = ?", (run,))
    assert store.get_run(run)["status"] == "crashed"  # our pid, but not the process that ran it
    store.conn.execute("UPDATE runs SET host = 'elsewhere' WHERE id = ?", (run,))
    assert store.get_run(run)["status"] == "running"  # another host: cannot tell
