"""The tracking API, ``import mlops_jupyter as mj``: the magics' twin, usable in plain scripts.

    mj.set_experiment("churn")
    with mj.start_run("baseline"):
        mj.log_param("lr", 0.1)
        for step, loss in enumerate(losses):
            mj.log_metric("loss", loss, step=step)   # buffered: 100,000 calls take well under 1 s
    mj.runs()                                         # DataFrame: params.* and metrics.* columns

In a notebook with ``%load_ext mlops_jupyter`` the same calls land in the current cell's run and
are tied to the cell. Buffered points reach the store within about a second in any case (a
background thread writes them: a SIGKILL or a cell still running loses at most that much), at
``end_run``, at SIGTERM and at interpreter exit (the run then ends ``finished``, or ``failed``
when the script died on an exception or was terminated).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInput
from . import session as session_mod
from .ast_names import is_secret
from .secrets import redact_value
from .session import get_session

REDACTED = "***"


@dataclass(frozen=True)
class ActiveRun:
    """The run facts are going to; a context manager that ends the run on exit."""

    id: str
    name: str
    experiment: str

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        session = get_session()
        if session.run_id == self.id:
            session.end_run("failed" if exc_type is not None else "finished")

    @property
    def info(self) -> dict[str, Any]:
        """The stored run row (status, times, git commit, parent, ...)."""
        return dict(get_session().store.get_run(self.id))


def set_experiment(name: str) -> str:
    """Put the next runs in experiment ``name`` (created on first use); ends the current run."""
    if not isinstance(name, str):
        raise InvalidInput(
            f"An experiment name must be text, got {type(name).__name__}. Pass e.g. 'churn'."
        )
    return get_session().set_experiment(name)


def start_run(name: str | None = None) -> ActiveRun:
    """End the current run and start a new one (also a context manager)."""
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise InvalidInput(
            f"A run name must be non-empty text, got {name!r}. Pass e.g. 'baseline'."
        )
    session = get_session()
    session.start_run(name.strip() if name else None)
    return _active(session)


def end_run(status: str = "finished") -> None:
    """Write buffered metrics and end the current run (``finished`` or ``failed``)."""
    if status not in ("finished", "failed"):
        raise InvalidInput(f"Unknown run status {status!r}. Use 'finished' or 'failed'.")
    get_session().end_run(status)


def active_run() -> ActiveRun | None:
    """The current run, or ``None`` before the first captured fact."""
    session = get_session()
    return _active(session) if session.run_id else None


def log_param(key: str, value: Any) -> None:
    """Set a param on the current run (last write wins); secret-looking keys are redacted, and
    secrets found in a value (tokens, passwords in URLs) are masked."""
    log_params({key: value})


def log_params(params: Mapping[str, Any]) -> None:
    if not isinstance(params, Mapping):
        raise InvalidInput(
            f"log_params takes a dict, got {type(params).__name__}. Example: log_params({{'lr': 0.1}})."
        )
    clean = {
        _key(k, "param"): (REDACTED if is_secret(str(k)) else redact_value(v))
        for k, v in params.items()
    }
    session = get_session()
    run_id = session.ensure_run()
    session.store.log_params(run_id, clean, source="explicit")
    session.explicit_params = True
    for k, v in clean.items():
        session.params[k] = (v, "explicit")


def log_metric(key: str, value: float, step: int | None = None) -> None:
    """Buffer one metric point; it reaches the store within about a second."""
    if type(key) is not str or not key:
        key = _key(key, "metric")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"Metric {key!r} needs a number, got {value!r}. Pass e.g. log_metric('auc', 0.93)."
        ) from None
    if step is not None and type(step) is not int:
        step = _step(step)
    session = session_mod._session
    if session is None or not session.is_open():
        session = get_session()
    session.buffer_metric(key, number, step)


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    if not isinstance(metrics, Mapping):
        raise InvalidInput(
            f"log_metrics takes a dict, got {type(metrics).__name__}. Example: log_metrics({{'auc': 0.9}})."
        )
    for key, value in metrics.items():
        log_metric(key, value, step)


def runs(experiment: str | None = None) -> Any:
    """One row per run (newest first): attributes, ``params.<key>``, ``metrics.<key>`` (latest)."""
    session = get_session()
    if session.run_id is not None:
        session.flush_metrics()
    from ..analysis.resources import add_columns

    store = session.store
    return add_columns(store, store.compare_frame(experiment))  # + resources.* (#16)


# -- helpers -----------------------------------------------------------------------------------


def _active(session: Any) -> ActiveRun:
    run_id = session.ensure_run()
    return ActiveRun(run_id, session.run_name or "", session.experiment)


def _key(key: Any, what: str) -> str:
    if not isinstance(key, str) or not key.strip():
        raise InvalidInput(f"A {what} name must be non-empty text, got {key!r}. Pass e.g. 'lr'.")
    return key.strip()


def _step(step: Any) -> int:
    try:
        as_float = float(step)
    except (TypeError, ValueError):
        as_float = math.nan
    if math.isnan(as_float) or as_float != int(as_float) or isinstance(step, bool):
        raise InvalidInput(f"A metric step must be an integer, got {step!r}. Pass e.g. step=3.")
    return int(as_float)
