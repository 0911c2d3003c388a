"""When the store cannot take a write: one clear line, the cell unharmed, nothing lost silently."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError

from mlops_jupyter.capture import _warn
from mlops_jupyter.capture import session as session_mod

from .conftest import run


def _fill_the_disk(store: Any) -> None:
    # through query(): after the queued writes, under the store's lock (the connection used
    # beside the writer thread deadlocked: the writer's mlops_actor() call inside sqlite3_step
    # waited for the GIL this thread held while it waited for the connection's mutex)
    pages = store.query("PRAGMA page_count")[0]["page_count"]
    store.query(f"PRAGMA max_page_count = {pages}")


@pytest.fixture
def full_store(shell: Any) -> Any:
    session_mod.reset_session()
    _warn._warned.clear()
    run(shell, "x = 0")  # the run exists
    store = session_mod.get_session().store
    _fill_the_disk(store)
    yield store
    store.query("PRAGMA max_page_count = 1073741823")
    _warn._warned.clear()
    session_mod.reset_session()


@pytest.mark.sqlite_only  # SQLite's full disk; the team store's failed write: test_team_store.py
def test_magic_write_on_a_full_disk_is_one_line(shell: Any, full_store: Any) -> None:
    big = "x" * 20_000  # needs new pages; IPython expands a magic line slowly, keep it short
    with pytest.raises(UsageError, match="Free disk space") as info:
        shell.run_line_magic("mlops", f"param note={big}")
    assert "\n" not in str(info.value) and "Traceback" not in str(info.value)


@pytest.mark.sqlite_only  # the same full disk
def test_capture_failure_is_reported_even_when_the_notebook_ignores_warnings(
    shell: Any, full_store: Any
) -> None:
    run(shell, "import warnings\nwarnings.filterwarnings('ignore')")
    _warn._warned.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.filterwarnings("ignore")
        result = run(shell, "# " + "z" * 20_000 + "\nresult = 41 + 1")  # a cell too big to store
        assert result.success and shell.user_ns["result"] == 42  # the cell is unharmed
        # The record is written in the background: the failure shows on the next cell.
        full_store.wait_for_writes()
        run(shell, "after = 1")
    assert any(issubclass(w.category, _warn.CaptureWarning) for w in caught)


def _script(code: str, cwd: Path, *, store: Path) -> subprocess.CompletedProcess[str]:
    """Run ``code`` as a plain Python script (no IPython) with the given store."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env={"MLOPS_JUPYTER_STORE": str(store), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_script_that_cannot_reach_the_store_says_so_and_keeps_its_metrics(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "store.txt"
    bad.write_text("not a database\n" * 100)
    script = (
        "import mlops_jupyter as mj\n"
        "for i in range(2000):\n"
        "    mj.log_metric('loss', 1 / (i + 1), step=i)\n"
        "print('script done')\n"
    )
    out = _script(script, tmp_path, store=bad)
    assert "script done" in out.stdout
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("mlops-jupyter:")]
    assert len(lines) == 1 and "not a readable mlops-jupyter store" in lines[0], out.stderr
    saved = list(tmp_path.glob("mlops-unsaved-metrics-*.jsonl"))
    assert len(saved) == 1 and len(saved[0].read_text().splitlines()) == 2000
    assert "Traceback" not in out.stderr


def test_metrics_logged_before_any_run_are_written_at_exit(tmp_path: Path) -> None:
    store_path = tmp_path / "lineage.db"
    script = (
        "import mlops_jupyter as mj\nfor i in range(50):\n    mj.log_metric('loss', i, step=i)\n"
    )
    out = _script(script, tmp_path, store=store_path)
    assert out.returncode == 0, out.stderr
    from mlops_jupyter.store import open_store

    store = open_store(store_path, shared=False)
    (run_row,) = store.query("SELECT id, status FROM runs")
    assert run_row["status"] == "finished"
    assert len(store.metric_history(run_row["id"])) == 50
    store.close()


@pytest.mark.parametrize("command", [["runs"], ["models"], ["audit", "verify"], ["compare"]])
def test_read_only_commands_refuse_a_store_that_does_not_exist(
    tmp_path: Path, command: list[str]
) -> None:
    from click.testing import CliRunner

    from mlops_jupyter.cli import cli

    typo = tmp_path / "lineage.bd"
    result = CliRunner().invoke(cli, ["--store", str(typo), *command])
    assert result.exit_code == 2, result.output
    assert f"No lineage store at {typo}" in result.output
    assert not typo.exists()  # not created
