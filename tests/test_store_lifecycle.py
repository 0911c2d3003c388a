"""The store file's life outside our control: deleted or replaced under a running kernel,
read by read-only commands (never upgraded), kept in a folder nobody may write."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

import mlops_jupyter as mj
from mlops_jupyter.capture.session import get_session
from mlops_jupyter.cli import cli
from mlops_jupyter.store import open_store
from mlops_jupyter.store.base import StoreReplacedWarning

from .conftest import run
from .test_server import make_old


def _remove(store_file: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(str(store_file) + suffix).unlink(missing_ok=True)


@pytest.mark.sqlite_only  # a file deleted or replaced under the kernel: no file on a server
@pytest.mark.parametrize("pause", [False, True], ids=["back-to-back", "after-a-pause"])
@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_store_file_gone_under_a_kernel_is_reopened_with_one_warning(
    shell, store_file: Path, tmp_path: Path, how: str, pause: bool
) -> None:
    """Back to back the writer thread notices (the cell's thread looks once a second, #18);
    after a pause the cell's thread does. Either way the run goes on in the new file."""
    run(shell, "import mlops_jupyter as mj\nmj.start_run('long-session')")
    run(shell, "lr = 0.1\nx = 1")
    get_session().store.wait_for_writes()  # these are in the old file
    if how == "deleted":
        _remove(store_file)
    else:
        other = tmp_path / "other.db"
        open_store(other, shared=False).close()
        other.replace(store_file)
    if pause:
        import time

        time.sleep(1.1)  # a person reading the output
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore")  # shown even to notebooks that silence warnings
        run(shell, "y = 2")  # back to back: the writer thread notices, puts the run back...
        run(shell, "z = 3")
        get_session().store.wait_for_writes()  # cells are written on the writer thread
        run(shell, "w = 4")  # ...and the next cell shows its warning
    get_session().store.wait_for_writes()
    assert len([w for w in caught if issubclass(w.category, StoreReplacedWarning)]) == 1
    check = open_store(store_file, shared=False)
    rows = check.list_runs()
    (row,) = rows
    assert row["name"] == "long-session" and check.get_params(row["id"])["lr"] == 0.1
    codes = [e["code"] for e in check.list_executions(row["id"])]
    assert codes == ["y = 2", "z = 3", "w = 4"]  # nothing after the deletion was lost
    check.close()
    assert get_session().run_id == row["id"]


def _cli(store_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``mlops-jupyter`` in a subprocess that may not write (as root: no CAP_DAC_OVERRIDE)."""
    cmd = [sys.executable, "-m", "mlops_jupyter", "--store", str(store_file), *args]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: permissions cannot be enforced")
        cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.fixture
def registry_store(tmp_path: Path) -> Path:
    from sklearn.linear_model import LogisticRegression

    folder = tmp_path / "shared"
    db = folder / "lineage.db"
    store = open_store(db, shared=False)
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    mj.register_model(model, "m", metrics={"accuracy": 1.0}, store=store)
    store.create_run("exp")
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    yield db
    folder.chmod(0o755)


def test_a_store_in_a_read_only_folder_can_be_read(registry_store: Path) -> None:
    folder = registry_store.parent
    for leftover in folder.glob("lineage.db-*"):
        leftover.unlink()
    folder.chmod(0o555)
    for args in (["runs"], ["models"], ["models", "m"], ["audit", "verify"], ["datasets"]):
        out = _cli(registry_store, *args)
        assert out.returncode == 0, (args, out.stderr)
        assert "Traceback" not in out.stderr
    assert "intact" in _cli(registry_store, "audit", "verify").stdout
    refused = _cli(registry_store, "demo", "--dir", str(folder))
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    writer = _cli(
        registry_store, "promote", "m", "1", "--to", "production", "--force", "--reason", "x"
    )
    assert writer.returncode == 2 and f"The folder {folder} is read-only" in writer.stderr


def test_read_only_commands_never_upgrade_an_old_store(registry_store: Path) -> None:
    old = make_old(registry_store)
    before = registry_store.read_bytes()
    for args in (["runs"], ["models"], ["audit", "verify"], ["compare"]):
        result = CliRunner().invoke(cli, ["--store", str(registry_store), *args])
        assert result.exit_code in (0, 2), result.output
        assert "Traceback" not in result.output
    assert registry_store.read_bytes() == before
    conn = sqlite3.connect(registry_store)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == old
    conn.close()
    open_store(registry_store, shared=False).close()  # a writer upgrades it, as before
    conn = sqlite3.connect(registry_store)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == old + 1
    conn.close()


def test_a_store_whose_folder_was_removed_is_not_recreated(tmp_path: Path) -> None:
    folder = tmp_path / "scratch"
    store = open_store(folder / "lineage.db", shared=False)
    store.create_run("e")
    shutil.rmtree(folder)  # a temporary folder cleaned up while the store is open
    with pytest.warns(StoreReplacedWarning, match="folder of the lineage store"):
        store.create_run("e")
    assert not folder.exists()
    store.close()


def _a_busy_error(tmp_path: Path) -> sqlite3.OperationalError:
    """SQLite's own "database is locked" (SQLITE_BUSY), made by reading a file another
    connection holds exclusively, with no busy wait."""
    holder = sqlite3.connect(tmp_path / "held.db", isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    reader = sqlite3.connect(tmp_path / "held.db", timeout=0)
    try:
        reader.execute("SELECT * FROM t")
    except sqlite3.OperationalError as exc:
        return exc
    finally:
        reader.close()
        holder.close()
    raise AssertionError("no busy error")


def test_a_store_busy_while_it_is_being_opened_is_opened_when_it_frees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Processes opening a new store at once can get SQLITE_BUSY while setting it up, without
    SQLite's busy handler waiting: the opening is tried again, and gives up with one clear
    line only after the busy timeout."""
    from mlops_jupyter.errors import StoreError
    from mlops_jupyter.store import connect

    busy = _a_busy_error(tmp_path)
    assert connect.is_busy(busy) and not connect.is_busy(sqlite3.OperationalError("no such table"))
    prepare, calls = connect._prepare_writer, []

    def busy_twice(conn: sqlite3.Connection, path: Path) -> None:
        calls.append(path)
        if len(calls) <= 2:
            raise busy
        prepare(conn, path)

    monkeypatch.setattr(connect, "_prepare_writer", busy_twice)
    conn = connect.open_writer(tmp_path / "s.db")
    assert len(calls) == 3
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()

    monkeypatch.setattr(connect, "BUSY_TIMEOUT_S", 0.3)
    monkeypatch.setattr(connect, "_prepare_writer", lambda conn, path: (_ for _ in ()).throw(busy))
    with pytest.raises(StoreError, match="stayed locked by another process") as info:
        connect.open_writer(tmp_path / "s.db")
    assert "\n" not in str(info.value)
