"""A few threads for the column summaries of a diff (#18), which the caller joins once its own
work is done.

The summaries are numpy and Arrow calls that release the GIL. While the caller compares the
rows, ``workers`` threads take summaries from the front of the queue; :meth:`Work.help` lets the
caller take them from the back until none is left. With 2 cores: 1 worker, not 2 beside a busy
caller (3 threads on 2 cores slowed every part down, the rows comparison most).
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any


def default_workers() -> int:
    """Threads beside the caller: one less than the cores, at most 3."""
    return max(0, min(3, (os.cpu_count() or 1) - 1))


class Work:
    """Run tasks on ``workers`` threads (none: at once, in the caller). A context manager: on
    exit the tasks not started are dropped and the threads end."""

    def __init__(self, workers: int) -> None:
        self._tasks: deque[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]] = deque()
        self._ready = threading.Condition()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._serve, name=f"mlops-datadiff-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def __enter__(self) -> Work:
        return self

    def __exit__(self, *exc: object) -> None:
        with self._ready:
            self._closed = True
            for future, _, _ in self._tasks:
                future.cancel()
            self._tasks.clear()
            self._ready.notify_all()
        for thread in self._threads:
            thread.join()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        if not self._threads:
            _run((future, fn, args))
            return future
        with self._ready:
            self._tasks.append((future, fn, args))
            self._ready.notify()
        return future

    def help(self) -> None:
        """Run queued tasks in the caller, newest first, until the queue is empty."""
        while True:
            with self._ready:
                if not self._tasks:
                    return
                task = self._tasks.pop()
            _run(task)

    def _serve(self) -> None:
        while True:
            with self._ready:
                while not self._tasks and not self._closed:
                    self._ready.wait()
                if self._closed:
                    return
                task = self._tasks.popleft()
            _run(task)


def _run(task: tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]) -> None:
    future, fn, args = task
    if not future.set_running_or_notify_cancel():
        return
    try:
        future.set_result(fn(*args))
    except BaseException as exc:  # handed to whoever waits on the future
        future.set_exception(exc)
