"""Buffered ``mj.log_metric`` points reach the store within a second, whatever happens next.

``mj.log_metric`` only appends to the session's list, so 100,000 calls stay list appends. A
daemon thread, started with the first point, writes what is buffered every :data:`INTERVAL`
seconds: a SIGKILL, a crash or a cell still running lose at most that much. Explicit flushes
(``end_run``, ``mj.runs``, a cell without capture, exit) ask the same thread and wait for it,
so no write runs in the main thread: Ctrl-C interrupts the wait, never the write, and a point
leaves the buffer only in the thread that committed it (written once, never twice, never lost).
SIGTERM, when nothing else handles it, writes the buffer and ends the run ``failed`` before the
process dies of it.

Points written while a notebook cell runs have no execution yet: the cell adopts them when it
is recorded (:func:`adopt`), moving them into a child run if the cell started one.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

from ._warn import warn_once

INTERVAL = 0.5  # seconds between background writes
SIGTERM_WAIT = 5.0  # seconds SIGTERM waits for the last write


def write_buffered(session: Any) -> int:
    """Write the session's buffered points (in the calling thread); returns how many."""
    from .session import iso_utc

    with session._metrics_lock:
        buffered = session.pending_metrics
        n = len(buffered)
        if n == 0 or not session.is_open():
            return 0
        batch = [(k, v, s, iso_utc(t)) for k, v, s, t in buffered[:n]]
        run_id = session.ensure_run()
        span = session.store.log_metrics(run_id, batch)
        del buffered[:n]  # only once committed: appends made meanwhile stay
        session.has_results = True
        if session.interactive and span is not None:
            session.flushed.note(run_id, span)
        return n


class Flushed:
    """The metric ids the flusher wrote since the last cell adopted them, and into which runs."""

    def __init__(self) -> None:
        self.first: int | None = None
        self.last: int | None = None
        self.runs: set[str] = set()

    def note(self, run_id: str, span: tuple[int, int]) -> None:
        self.first = span[0] if self.first is None else min(self.first, span[0])
        self.last = span[1] if self.last is None else max(self.last, span[1])
        self.runs.add(run_id)

    def take(self) -> tuple[int, int, list[str]] | None:
        if self.first is None or self.last is None:
            return None
        out = (self.first, self.last, sorted(self.runs))
        self.first = self.last = None
        self.runs = set()
        return out


def adopt(session: Any, store: Any, run_id: str, execution_id: int, since: str) -> None:
    """Inside a cell's transaction: tie the points flushed during the cell to its execution."""
    with session._metrics_lock:
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
        self._cond = threading.Condition()
        self._asked = 0  # flush requests made
        self._done = 0  # requests served
        self._error: BaseException | None = None
        self._stopped = False
        self.thread = threading.Thread(target=self._run, name="mlops-metric-flusher", daemon=True)
        self.thread.start()
        _install_sigterm()

    def _run(self) -> None:
        while not self._stopped:
            self._wake.wait(self.interval)
            self._wake.clear()
            with self._cond:
                ticket = self._asked
            error = None
            try:
                write_buffered(self.session)
            except BaseException as exc:
                error = exc
                if ticket == self._done:  # nobody waits: say it once, keep the points
                    warn_once("write logged metrics", exc)
            with self._cond:
                self._done, self._error = ticket, error
                self._cond.notify_all()
            if not self.session.is_open() and not self.session.pending_metrics:
                return

    def flush(self, timeout: float | None = None) -> None:
        """Have the thread write now and wait for it; raises what the write raised."""
        if not self.thread.is_alive() or threading.current_thread() is self.thread:
            write_buffered(self.session)
            return
        with self._cond:
            self._asked += 1
            ticket = self._asked
            self._wake.set()
            if not self._cond.wait_for(lambda: self._done >= ticket, timeout):
                return  # the thread is stuck behind a lock; its next round writes them
            error = self._error if self._done == ticket else None
        if error is not None:
            raise error

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
            flusher = current._flusher
            if flusher is not None:
                flusher.flush(timeout=SIGTERM_WAIT)
            if current.run_id is not None:
                current.store.end_run(current.run_id, "failed")
    except Exception:
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
