"""Shared fixtures: a real store file in tmp_path, a real IPython shell, real notebooks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "example_notebooks"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory in tmp_path with ``$MLOPS_JUPYTER_STORE`` pointing inside it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLOPS_JUPYTER_STORE", str(tmp_path / ".mlops" / "lineage.db"))
    yield tmp_path
    from mlops_jupyter.store import close_all

    close_all()


@pytest.fixture
def store_file(workdir: Path) -> Path:
    return workdir / ".mlops" / "lineage.db"


@pytest.fixture
def store(store_file: Path) -> Any:
    """The store the workdir's kernel would use, opened fresh (not shared)."""
    from mlops_jupyter.store import open_store

    s = open_store(store_file, shared=False)
    yield s
    s.close()


@pytest.fixture
def shell(workdir: Path) -> Iterator[Any]:
    """A real ``InteractiveShell`` with ``%load_ext mlops_jupyter`` run, history on."""
    from IPython.core.interactiveshell import InteractiveShell

    InteractiveShell.clear_instance()
    sh = InteractiveShell.instance(history_length=1000)
    sh.run_line_magic("load_ext", "mlops_jupyter")
    yield sh
    try:
        sh.run_line_magic("unload_ext", "mlops_jupyter")
    finally:
        sh.history_manager.end_session()
        InteractiveShell.clear_instance()


@pytest.fixture
def fresh_session(workdir: Path) -> Iterator[None]:
    """A new capture session (its own run) before and after the test."""
    from mlops_jupyter.capture import session as session_mod

    session_mod.reset_session()
    yield
    session_mod.reset_session()


def run(shell: Any, code: str, *, check: bool = True) -> Any:
    """Run one cell like a notebook would (store_history=True) and return the ExecutionResult."""
    result = shell.run_cell(code, store_history=True)
    if check and not result.success:
        raise AssertionError(f"cell failed: {result.error_in_exec or result.error_before_exec}")
    return result


def execute_notebook(
    path: Path, cwd: Path, env: dict[str, str] | None = None, timeout: int = 300
) -> Any:
    """Execute a notebook with nbclient in ``cwd`` (a fresh kernel) and return it."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    old = dict(os.environ)
    os.environ.update(env or {})
    try:
        NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(cwd)}},
            store_widget_state=True,
        ).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    return nb
