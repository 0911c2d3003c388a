"""URL table of the REST API, all under ``<base_url>/mlops-jupyter/``."""

from __future__ import annotations

from typing import Any

from . import handlers as h

PREFIX = "mlops-jupyter"

ROUTES: list[tuple[str, type[Any]]] = [
    (r"status", h.StatusHandler),
    (r"experiments", h.ExperimentsHandler),
    (r"runs", h.RunsHandler),
    (r"runs/(?P<run_id>[^/]+)", h.RunHandler),
    (r"runs/(?P<run_id>[^/]+)/lineage", h.RunLineageHandler),
    (r"executions", h.ExecutionsHandler),
    (r"executions/(?P<execution_id>[^/]+)/lineage", h.ExecutionLineageHandler),
    (r"datasets", h.DatasetsHandler),
    (r"datasets/(?P<name>[^/]+)", h.DatasetHandler),
    (r"models", h.ModelsHandler),
    (r"drift", h.DriftHandler),
    (r"drift/(?P<report_id>[^/]+)", h.DriftReportHandler),
    (r"compare", h.CompareHandler),
    (r"monitor/(?P<name>[^/]+)", h.MonitorHandler),
]
