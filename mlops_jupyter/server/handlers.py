"""Thin authenticated handlers: parse the request, call :mod:`.queries`, write JSON.

``MlopsHandler.get`` is the one place that turns an :class:`~mlops_jupyter.errors.MlopsError`
into a JSON 4xx (``{"error": "RunNotFound", "message": "..."}``); anything else is a bug and
keeps jupyter_server's 500. No handler reads a file named by the request: the store path comes
from the server's settings only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import tornado.web
from jupyter_server.base.handlers import APIHandler

from ..errors import InvalidInput, MlopsError, NotFound
from . import queries

SETTINGS_KEY = "mlops_jupyter_store"


class MlopsHandler(APIHandler):
    """Base: subclasses implement ``read(store, **path_args)``; an absent store reads as empty."""

    empty: ClassVar[Any] = None  # what ``read`` returns while the store file does not exist yet

    @tornado.web.authenticated
    def get(self, **path_args: str) -> None:
        try:
            payload = self.respond(_location(self.settings[SETTINGS_KEY]), **path_args)
        except MlopsError as exc:
            self.set_status(404 if isinstance(exc, NotFound) else 400)
            payload = {"error": type(exc).__name__, "message": str(exc)}
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(queries.jsonable(payload)))

    def respond(self, path: Path | str, **path_args: str) -> Any:
        store = _open(path)
        if store is not None:
            return self.read(store, **path_args)
        if self.empty is not None:
            return self.empty
        raise NotFound(
            f"No lineage store at {path} yet. Run `%load_ext mlops_jupyter` in a "
            "notebook, or start the server with $MLOPS_JUPYTER_STORE set."
        )

    def read(self, store: Any, **path_args: str) -> Any:
        raise NotImplementedError

    def arg(self, name: str) -> str | None:
        value = self.get_query_argument(name, None)
        return value.strip() if value else None


def _location(setting: str) -> Path | str:
    from ..config import is_server_url

    return setting if is_server_url(setting) else Path(setting)


def _open(path: Path | str) -> Any:
    from ..store import open_store

    if isinstance(path, str):  # a team store: absent until someone records into it
        from ..errors import StoreError

        try:
            return open_store(path, readonly=True)
        except StoreError as exc:
            if str(exc).startswith("No lineage store"):
                return None
            raise
    if not path.is_file():
        return None
    return open_store(path, readonly=True)  # the API only reads: never upgrade, never create


class StatusHandler(MlopsHandler):
    def respond(self, path: Path | str, **path_args: str) -> Any:
        return queries.status(_open(path), path)


class ExperimentsHandler(MlopsHandler):
    empty: ClassVar[Any] = []

    def read(self, store: Any) -> Any:
        return queries.experiments(store)


class RunsHandler(MlopsHandler):
    empty: ClassVar[Any] = []

    def read(self, store: Any) -> Any:
        return queries.runs(store, self.arg("experiment"))


class RunHandler(MlopsHandler):
    def read(self, store: Any, run_id: str) -> Any:
        return queries.run_detail(store, run_id)


class RunLineageHandler(MlopsHandler):
    def read(self, store: Any, run_id: str) -> Any:
        return queries.run_lineage(store, run_id)


class ExecutionsHandler(MlopsHandler):
    empty: ClassVar[Any] = []

    def read(self, store: Any) -> Any:
        cell_ids = [c for c in self.get_query_arguments("cell_id") if c]
        return queries.executions(store, self.arg("notebook"), cell_ids)


class ExecutionLineageHandler(MlopsHandler):
    def read(self, store: Any, execution_id: str) -> Any:
        return queries.execution_lineage(store, execution_id)


class DatasetsHandler(MlopsHandler):
    empty: ClassVar[Any] = []

    def read(self, store: Any) -> Any:
        return queries.datasets(store, self.arg("tag"))


class DatasetHandler(MlopsHandler):
    def read(self, store: Any, name: str) -> Any:
        return queries.dataset(store, name)


class DriftReportHandler(MlopsHandler):
    def read(self, store: Any, report_id: str) -> Any:
        return queries.drift_report(store, report_id)


class ModelsHandler(MlopsHandler):
    empty: ClassVar[Any] = {"registered": [], "captured": []}

    def read(self, store: Any) -> Any:
        return queries.models(store)


class DriftHandler(MlopsHandler):
    empty: ClassVar[Any] = []

    def read(self, store: Any) -> Any:
        return queries.drift(store, self.arg("model"))


class CompareHandler(MlopsHandler):
    def read(self, store: Any) -> Any:
        runs = self.arg("runs")
        if not runs:
            raise InvalidInput(
                "Say which runs to compare. Pass ?runs=ID1,ID2 with ids from /mlops-jupyter/runs."
            )
        return queries.compare(store, runs.split(","))


class MonitorHandler(MlopsHandler):
    def read(self, store: Any, name: str) -> Any:
        return queries.monitor(store, name)
