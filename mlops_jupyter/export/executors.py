"""Where a sweep's combinations run: local processes, any ``concurrent.futures`` executor, Dask.

:func:`as_executor` takes what the caller gave ``sweep(executor=...)``:

- ``None``: :class:`LocalExecutor` (``jobs`` spawned processes);
- any :class:`concurrent.futures.Executor` (a ``ProcessPoolExecutor``, Dask's
  ``client.get_executor()``, Ray's, ...): wrapped in :class:`FuturesExecutor`, so other engines
  plug in without our code changing;
- an object with our one-method interface (:class:`Executor`), used as it is.

A combination whose worker dies (Dask's ``KilledWorker``, a broken process pool) fails alone,
with one line saying so; the others go on. :func:`dask_executor` opens the executor of
``mlops-jupyter run --executor dask`` (a ``LocalCluster`` of processes when no scheduler is
given). Nothing here imports dask until it is asked for.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from ..errors import InvalidInput


class Executor(Protocol):
    """Runs ``fn`` over ``items``; yields ``(item, result or exception)`` as they finish.

    Implement this to plug in a distributed engine: ``fn`` and the items are picklable.
    """

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterable[tuple[Any, Any]]: ...


def describe_failure(exc: BaseException) -> BaseException:
    """A worker that died becomes one line that says so (other errors pass through)."""
    name = type(exc).__name__
    if name == "KilledWorker":  # dask.distributed: the worker running it died (every retry)
        return RuntimeError(
            "The Dask worker running this combination died (out of memory, killed, or the "
            "notebook ended its process); the other combinations went on. Re-run it alone "
            "with `mlops-jupyter run BUNDLE -p KEY=VALUE` to see why."
        )
    if isinstance(exc, concurrent.futures.process.BrokenProcessPool):
        return RuntimeError(
            "The local process running this combination died (out of memory or killed). "
            "Re-run it alone with `mlops-jupyter run BUNDLE -p KEY=VALUE` to see why."
        )
    return exc


class FuturesExecutor:
    """Any ``concurrent.futures.Executor``: every item submitted, yielded as it finishes."""

    def __init__(self, pool: concurrent.futures.Executor) -> None:
        self.pool = pool

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[tuple[Any, Any]]:
        futures = {self.pool.submit(fn, item): i for i, item in enumerate(items)}
        for future in concurrent.futures.as_completed(futures):
            item = items[futures[future]]
            try:
                yield item, future.result()
            except Exception as exc:
                yield item, describe_failure(exc)


class LocalExecutor:
    """Local processes (spawned, so each job starts clean), ``jobs`` at a time."""

    def __init__(self, jobs: int = 1) -> None:
        if jobs < 1:
            raise InvalidInput(f"--jobs must be at least 1, got {jobs}. Pass e.g. --jobs 2.")
        self.jobs = jobs

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterable[tuple[Any, Any]]:
        if self.jobs == 1 or len(items) <= 1:
            for item in items:
                try:
                    yield item, fn(item)
                except Exception as exc:
                    yield item, exc
            return
        ctx = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(self.jobs, mp_context=ctx) as pool:
            yield from FuturesExecutor(pool).map(fn, items)


def as_executor(executor: Any, jobs: int = 1) -> Executor:
    """The executor a sweep runs on (see the module docstring)."""
    if executor is None:
        return LocalExecutor(jobs)
    if isinstance(executor, concurrent.futures.Executor) or callable(
        getattr(executor, "submit", None)
    ):
        return FuturesExecutor(executor)
    if callable(getattr(executor, "map", None)):
        return executor  # type: ignore[no-any-return]
    raise InvalidInput(
        f"executor must be a concurrent.futures executor (e.g. a Dask client's "
        f"get_executor()), got {type(executor).__name__}. Example: "
        "sweep(bundle, grid, executor=ProcessPoolExecutor(2))."
    )


@contextmanager
def dask_executor(scheduler: str | None = None, workers: int = 2) -> Iterator[FuturesExecutor]:
    """A Dask client's executor: on ``scheduler`` (``tcp://host:8786``), or on a new
    ``LocalCluster`` of ``workers`` single-threaded processes, closed at the end."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InvalidInput(
            "--executor dask needs dask.distributed, which is not installed. Install it with "
            "pip install 'mlops-jupyter[dask]', or leave --executor out for local processes."
        ) from None
    cluster = None
    if scheduler:
        try:
            client = Client(scheduler, timeout="5s")
        except OSError as exc:
            raise InvalidInput(
                f"Cannot reach the Dask scheduler at {scheduler} ({exc}). Check --scheduler "
                "(e.g. tcp://host:8786), or leave it out for a local cluster."
            ) from None
    else:
        if workers < 1:
            raise InvalidInput(f"--jobs must be at least 1, got {workers}. Pass e.g. --jobs 2.")
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
    try:
        yield FuturesExecutor(client.get_executor())
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


__all__ = [
    "Executor",
    "FuturesExecutor",
    "LocalExecutor",
    "as_executor",
    "dask_executor",
    "describe_failure",
]
