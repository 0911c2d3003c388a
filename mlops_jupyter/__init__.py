"""mlops-jupyter: MLOps that lives inside the notebook.

``%load_ext mlops_jupyter`` captures every cell into a lineage store (one SQLite file, or a
PostgreSQL team store). The same features work without magics through this module,
``import mlops_jupyter as mj``:

    tracking    mj.set_experiment, mj.start_run, mj.end_run, mj.log_param(s), mj.log_metric(s),
                mj.active_run, mj.runs, mj.capture_class (capture another framework's models)
    analysis    mj.compare, mj.drift, mj.drift_history, mj.diff, mj.datasets
    registry    mj.register_model, mj.load_model, mj.promote, mj.rollback, mj.models,
                mj.set_policy, mj.audit_verify, mj.audit_head
    export      mj.export, mj.run_bundle, mj.sweep (a param grid, any executor), mj.verify
    data        mj.expect, mj.expectations, mj.check (data tests), mj.tag, mj.resources
    monitoring  mj.monitor, mj.monitor_history, mj.proposals, mj.approve, mj.reject, mj.propose
    store       mj.open_store, mj.MlopsError

Importing is cheap: each name is imported on first use (no jupyter_server, tornado, click,
nbclient or matplotlib at import time).
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

from ._version import __version__
from .errors import MlopsError

# public name -> "module:attribute"; each area owns its own entries.
_LAZY: dict[str, str] = {
    # tracking (issue #2)
    "set_experiment": "mlops_jupyter.capture.api:set_experiment",
    "start_run": "mlops_jupyter.capture.api:start_run",
    "end_run": "mlops_jupyter.capture.api:end_run",
    "active_run": "mlops_jupyter.capture.api:active_run",
    "log_param": "mlops_jupyter.capture.api:log_param",
    "log_params": "mlops_jupyter.capture.api:log_params",
    "log_metric": "mlops_jupyter.capture.api:log_metric",
    "log_metrics": "mlops_jupyter.capture.api:log_metrics",
    "runs": "mlops_jupyter.capture.api:runs",
    "capture_class": "mlops_jupyter.capture.instrument:capture_class",
    "open_store": "mlops_jupyter.store:open_store",
    # comparison (issue #3)
    "compare": "mlops_jupyter.analysis.compare:compare",
    # drift (issue #4)
    "drift": "mlops_jupyter.analysis.drift:drift",
    "drift_history": "mlops_jupyter.analysis.drift:drift_history",
    # dataset versions and diffs (issue #5)
    "diff": "mlops_jupyter.analysis.datadiff:diff",
    "datasets": "mlops_jupyter.analysis.datadiff:datasets",
    # export, headless runs, verification (issue #6)
    "export": "mlops_jupyter.export:export",
    "run_bundle": "mlops_jupyter.export:run_bundle",
    "verify": "mlops_jupyter.export:verify",
    # sweeps on any concurrent.futures executor, e.g. Dask (issue #15)
    "sweep": "mlops_jupyter.export:sweep",
    # registry (issue #8)
    "register_model": "mlops_jupyter.registry:register_model",
    "load_model": "mlops_jupyter.registry:load_model",
    "promote": "mlops_jupyter.registry:promote",
    "rollback": "mlops_jupyter.registry:rollback",
    "models": "mlops_jupyter.registry:models",
    "set_policy": "mlops_jupyter.registry:set_policy",
    "audit_verify": "mlops_jupyter.registry:audit_verify",
    "audit_head": "mlops_jupyter.registry:audit_head",
    # data tests, dataset tags, resources (issue #16)
    "expect": "mlops_jupyter.analysis.suites:expect",
    "expectations": "mlops_jupyter.analysis.suites:expectations",
    "check": "mlops_jupyter.analysis.suites:check",
    "tag": "mlops_jupyter.analysis.tags:tag",
    "resources": "mlops_jupyter.analysis.resources:resources",
    # monitoring and continuous training (issue #17)
    "monitor": "mlops_jupyter.monitoring:monitor",
    "monitor_history": "mlops_jupyter.monitoring:monitor_history",
    "proposals": "mlops_jupyter.monitoring:proposals",
    "approve": "mlops_jupyter.monitoring:approve",
    "reject": "mlops_jupyter.monitoring:reject",
    "propose": "mlops_jupyter.monitoring:propose",
}

__all__ = ["MlopsError", "__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'mlops_jupyter' has no attribute {name!r}")
    module_name, _, attr = target.partition(":")
    value = getattr(importlib.import_module(module_name), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


class _Package(types.ModuleType):
    """Keeps a public function from being shadowed by a subpackage of the same name.

    Importing ``mlops_jupyter.export`` (the subpackage) makes Python bind it as the attribute
    ``mlops_jupyter.export``, over the public function ``mj.export``; the binding is dropped here,
    so ``mj.export(...)`` stays the function while ``from mlops_jupyter.export import ...`` works.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LAZY and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


# -- Jupyter entry points (looked up by IPython and jupyter_server on this module) -------------


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext mlops_jupyter``: register ``%mlops`` and start capturing cells."""
    from .magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .magics import unload_ipython_extension as unload

    unload(ipython)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "mlops-jupyter"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "mlops_jupyter"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    from .server import load_jupyter_server_extension

    load_jupyter_server_extension(server_app)
