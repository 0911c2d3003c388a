"""The lineage store: the only package that speaks SQL.

Everything else calls methods of :class:`Store`. Two backends answer the same methods: one
SQLite file (the default) and a team store on PostgreSQL (``postgresql://`` URL; the
connection in :mod:`.pg` takes the same SQL, see :mod:`.pgsql`).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from ..config import store_location
from .compare import CompareMixin
from .datadiff import DatadiffMixin
from .datasets import DatasetsMixin
from .drift import DriftMixin
from .expectations import ExpectationsMixin
from .export import ExportMixin
from .monitor import MonitorMixin
from .registry import RegistryMixin
from .resources import ResourcesMixin
from .runs import RunsFrameMixin
from .tags import TagsMixin


class Store(
    RunsFrameMixin,
    DatasetsMixin,
    CompareMixin,
    DriftMixin,
    DatadiffMixin,
    RegistryMixin,
    ExportMixin,
    ExpectationsMixin,
    TagsMixin,
    ResourcesMixin,
    MonitorMixin,
):
    """A lineage store on one SQLite file or a PostgreSQL schema (see :mod:`.base`)."""

    def __repr__(self) -> str:
        return f"<Store {self.display}>"


_open: dict[Path | str, Store] = {}
_open_readers: dict[Path | str, Store] = {}
_open_lock = threading.Lock()


def open_store(
    path: str | os.PathLike[str] | None = None, *, shared: bool = True, readonly: bool = False
) -> Store:
    """Open (creating and upgrading as needed) the store at ``path`` or the configured one.

    ``path`` is a file or a ``postgresql://user@host:port/db`` URL (``?schema=NAME`` picks
    the schema; default ``mlops_jupyter``).

    With ``shared`` (the default) one connection per file is reused within the process; a
    file deleted or replaced since is reopened. ``readonly`` opens an existing store without
    ever writing to it (no upgrade, a read-only folder is fine); it reuses this process's
    writer for the file when there is one.
    """
    resolved = store_location(path)
    if not shared:
        return Store(resolved, readonly=readonly)
    with _open_lock:
        store = _open.get(resolved) or (_open_readers.get(resolved) if readonly else None)
        if store is None:
            store = Store(resolved, readonly=readonly)
            (_open_readers if readonly else _open)[resolved] = store
    store.wait_for_writes()  # the process reads its own writes (capture writes in the background)
    store.ensure_current()
    return store


def close_all() -> None:
    with _open_lock:
        for store in [*_open.values(), *_open_readers.values()]:
            store.close()
        _open.clear()
        _open_readers.clear()


__all__ = ["Store", "close_all", "open_store"]
