"""Which runs a comparison shows: the store to read, the experiment, and run names resolved in
it (a name several experiments use means the current experiment's run)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from ..errors import ExperimentNotFound, InvalidInput


def scope(store: Any, experiment: str | None, runs: Sequence[str] | None) -> tuple[Any, Any]:
    """The store to read and the experiment to show, from arguments or the session."""
    if experiment is not None:
        if store is None:
            session = _current_session()
            store = session.store if session is not None else _open_default_store()
        store.get_experiment(experiment)  # ExperimentNotFound names the fix
        return store, experiment
    if store is None:
        session = _current_session()
        if session is None:
            store = _open_default_store()
        else:
            store = session.store
            if runs is None:
                try:  # the session's experiment, once it holds runs
                    return store, store.get_experiment(session.experiment)["name"]
                except ExperimentNotFound:
                    pass
    if runs is None:
        experiment = store.latest_experiment_name()
    return store, experiment


def resolve_run(store: Any, ref: str, experiment: str | None) -> str:
    """A run id for ``ref``; a name several experiments use means the run of ``experiment``
    (else of the session's experiment), so "run-1" in a notebook is that notebook's run-1."""
    try:
        return str(store.get_run(ref)["id"])
    except InvalidInput:
        session = _current_session() if experiment is None else None
        scope = experiment or getattr(session, "experiment", None)
        if scope is None:
            raise
        try:
            mine = [r["id"] for r in store.list_runs(scope) if r["name"] == ref]
        except ExperimentNotFound:
            mine = []
        if len(mine) != 1:
            raise
        return str(mine[0])


def _open_default_store() -> Any:
    from ..store import open_store

    return open_store()


def _current_session() -> Any:
    try:
        from ..capture.session import get_session
    except ImportError:
        return None
    try:
        session = get_session()
        if getattr(session, "run_id", None) is not None:
            session.flush_metrics()  # buffered log_metric points show, as in mj.runs()
        return session
    except Exception as exc:  # the session is optional here: fall back to the store
        warnings.warn(f"mlops-jupyter: no capture session ({exc})", stacklevel=3)
        return None
