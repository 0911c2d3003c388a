"""Model files written off the cell's critical path, and never lost at exit.

The cell that fits a model records its fingerprint, class, params and lineage at once; the
skops file (``import skops.io`` alone takes 0.5 s) is written by one background thread, between
cells (it waits for 0.2 s without a running cell, 30 s at the most). Before
it keeps a file it checks that the model still has the fingerprint the cell recorded: a model
refitted in place since then is another model (its own row), and the stale state is not saved
under the old fingerprint.

:func:`flush` waits for pending files (export and verify call it; so does interpreter exit).
If the kernel dies before a file is written, the model's row stays without a file:
``mlops-jupyter models`` shows it, and re-running the notebook (or ``mlops-jupyter run``)
recreates it.
"""

from __future__ import annotations

import atexit
import contextlib
import queue
import threading
from pathlib import Path
from typing import Any

from ._warn import warn_once

_queue: queue.Queue[tuple[Path, str, Any] | None] = queue.Queue()
_thread: threading.Thread | None = None
_lock = threading.Lock()
_stores: dict[Path | str, Any] = {}  # store key (file path or URL) -> its store
# (store, model fingerprint) -> its file's hash, once written by this process
_hashes: dict[tuple[Path | str, str], str] = {}
_hashes_lock = threading.Lock()


def known_hash(store_key: Path | str, fingerprint: str) -> str | None:
    """The file of a model this process wrote into that store already (its row may not exist
    yet)."""
    with _hashes_lock:
        return _hashes.get((store_key, fingerprint))


def submit(store_key: Path | str, fingerprint: str, estimator: Any) -> None:
    """Write ``estimator``'s file in the background and attach it to model ``fingerprint``."""
    global _thread
    with _lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_run, name="mlops-artifacts", daemon=True)
            _thread.start()
            atexit.register(flush)
    _queue.put((store_key, fingerprint, estimator))


def flush(timeout: float | None = None) -> bool:
    """Wait until every submitted file is written (or ``timeout`` passes); True when done.

    Cells queue their models' files once their own rows are written, so the stores' queued
    writes are waited for first. The writer stops waiting for an idle kernel meanwhile."""
    import sys

    from .instrument import awaited

    stores = sys.modules.get("mlops_jupyter.store")
    for store in list(getattr(stores, "_open", {}).values()):
        store.wait_for_writes()
    if _thread is None or not _thread.is_alive():
        return _queue.unfinished_tasks == 0
    with awaited():
        if timeout is None:
            _queue.join()
            return True
        done = threading.Event()

        def wait() -> None:
            _queue.join()
            done.set()

        threading.Thread(target=wait, daemon=True).start()
        return done.wait(timeout)


def pending() -> int:
    return _queue.unfinished_tasks


def _run() -> None:
    from .instrument import wait_until_idle

    while True:
        item = _queue.get()
        try:
            wait_until_idle()  # between cells, unless a cell runs for long
            if item is not None:
                _write(*item)
        except Exception as exc:
            warn_once("save a model file", exc)
        finally:
            del item
            if _queue.qsize() == 0:
                _close_stores()  # idle: hold no connection (the store may be deleted or moved)
            _queue.task_done()


def _close_stores() -> None:
    for store in _stores.values():
        with contextlib.suppress(Exception):
            store.close()
    _stores.clear()


def _write(store_key: Path | str, fingerprint: str, estimator: Any) -> None:
    import skops.io

    from .fingerprint import model_fingerprint

    data = skops.io.dumps(estimator)
    if model_fingerprint(estimator) != fingerprint:
        return  # refitted or changed since the cell: that state is not this model
    store = _stores.get(store_key)
    if store is None:
        from ..store import Store

        store = _stores[store_key] = Store(store_key)
    digest = store.put_artifact(data, "application/x-skops")
    # The model's row may be queued behind the cell that fitted it: whichever comes second
    # attaches the file (the row's insert reads known_hash; this update waits for its commit).
    with _hashes_lock:
        if len(_hashes) > 100_000:
            _hashes.clear()
        _hashes[(store_key, fingerprint)] = digest
    store.set_model_artifact(fingerprint, digest)
