"""Buffered ``mj.log_metric`` points reach the store within a second, whatever happens next.

``mj.log_metric`` only appends to the session's list, so 100,000 calls stay list appends. A
daemon thread, started with the first point, hands what is buffered to the store's writer
thread every :data:`INTERVAL` seconds: a SIGKILL, a crash or a cell still running lose at most
that much. Explicit flushes (``end_run``, ``mj.runs``, a cell without capture, exit) hand them
over at once and wait for the commit. No write runs in the main thread, so Ctrl-C interrupts
the wait, never the write: each point is written once (a failed write puts it back). SIGTERM,
when nothing else handles it, writes the buffer and ends the run ``failed`` before the process
dies of it.

Points written while a notebook cell runs have no execution yet: the cell adopts them when its
record is written (:func:`adopt`), moving them into a child run if the cell started one.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

from ._warn import warn_once

INTERVAL = 0.5  # seconds between background writes
SIGTERM_WAIT = 5.0  # seconds SIGTERM waits for the last write


def hand_over(session: Any) -> tuple[Any, dict[str, BaseException]] | None:
    """Move the buffered points into one write group of the store's writer thread.

    Returns ``(store, outcome)``: ``outcome["error"]`` is set if that group failed (its points
    are then back in the buffer); None when there was nothing to write.
    """
    if not session.pending_metrics or not session.is_open():
        return None
    run_id = session.ensure_run()
    store = session.store_nowait
    with session._metrics_lock:  # no I/O under this lock: the writer may need it
        n = len(session.pending_metrics)
        batch = session.pending_metrics[:n]
        del session.pending_metrics[:n]
    if not batch:
        return None
    outcome: dict[str, BaseException] = {}
    interactive = session.interactive

    def write(st: Any) -> None:  # on the writer thread
        span = st.insert_points(run_id, batch)  # log_metric made the values floats already
        if interactive and span is not None:
            session.flushed.note(run_id, span)

    def failed(exc: BaseException) -> None:  # on the writer thread: keep the points, say so
        session.restore_metrics(batch)
        outcome["error"] = exc
        if interactive:
            session.write_failures.append(exc)  # reported on the notebook's thread
        else:
            warn_once("write logged metrics", exc)

    store.write_later(write, failed)
    session.has_results = True
    return store, outcome


class Flushed:
    """The metric ids written since the last cell adopted them, and into which runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.first: int | None = None
        self.last: int | None = None
        self.runs: set[str] = set()

    def note(self, run_id: str, span: tuple[int, int]) -> None:
        with self._lock:
            self.first = span[0] if self.first is None else min(self.first, span[0])
            self.last = span[1] if self.last is None else max(self.last, span[1])
            self.runs.add(run_id)

    def take(self) -> tuple[int, int, list[str]] | None:
        with self._lock:
            if self.first is None or self.last is None:
                return None
            out = (self.first, self.last, sorted(self.runs))
            self.first = self.last = None
            self.runs = set()
            return out


def adopt(session: Any, store: Any, run_id: str, execution_id: int, since: str) -> None:
    """In a cell's write group: tie the points written while the cell ran to its execution."""
    taken = session.flushed.take()
    if taken is None:
        return
    first, last, runs = taken
    # the cell's run, and the parent it left when its capture started a child run: points
    # written to runs the cell itself ended (``with mj.start_run(...)``) stay where they are
    sources = {run_id}
    row = store.find_run(run_id)
    if row and row.get("parent_run_id") and str(row.get("started_at")) >= since:
        sources.add(row["parent_run_id"])
    runs = [r for r in runs if r in sources]
    if runs:
        store.adopt_metrics(run_id, execution_id, since, first=first, last=last, runs=runs)


class Flusher:
    """The daemon thread of one session (see the module docstring)."""

    def __init__(self, session: Any, interval: float = INTERVAL) -> None:
        self.session = session
        self.interval = interval
        self._wake = threading.Event()
        self._stopped = False
        self.thread = threading.Thread(target=self._run, name="mlops-metric-flusher", daemon=True)
        self.thread.start()
        _install_sigterm()

    def _run(self) -> None:
        while not self._stopped:
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                hand_over(self.session)
            except Exception as exc:  # the store cannot be opened: the points stay buffered
                warn_once("write logged metrics", exc)
            if not self.session.is_open() and not self.session.pending_metrics:
                return

    def flush(self, timeout: float | None = None) -> None:
        """Write the buffer now and wait for the commit; raises what the write raised."""
        handed = hand_over(self.session)
        if handed is None:
            return
        store, outcome = handed
        store.wait_for_writes(timeout)
        if "error" in outcome:
            raise outcome["error"]

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()


def start(session: Any) -> Flusher:
    return Flusher(session)


# -- SIGTERM -------------------------------------------------------------------------------------

_sigterm_installed = False


def _install_sigterm() -> None:
    """Write the buffer at SIGTERM, when the process has no handler of its own (main thread)."""
    global _sigterm_installed
    if _sigterm_installed or threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return
        signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError, AttributeError):  # no signals here (Windows, embedded)
        return
    _sigterm_installed = True


def _on_sigterm(signum: int, frame: Any) -> None:
    from . import session as session_mod

    try:
        current = session_mod._session
        if current is not None and current.is_open():
            if current._flusher is not None:
                current._flusher.flush(timeout=SIGTERM_WAIT)
            if current.run_id is not None:
                current.store_nowait.end_run(current.run_id, "failed")
    except Exception:  # dying anyway; the points were written if they could be
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)


def _forget_in_child() -> None:
    """A forked child has no flusher thread: its session starts its own on the next point."""
    from . import session as session_mod

    current = session_mod._session
    if current is not None:
        current._flusher = None


os.register_at_fork(after_in_child=_forget_in_child)
