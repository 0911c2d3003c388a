"""IPython event hooks: ``pre_run_cell`` stamps the cell, ``post_run_cell`` captures it.

Capture never breaks a user's cell: every exception inside a hook is caught and reported once
per kind as a warning; the cell's own result and outputs are untouched.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from ..store.base import utcnow
from . import instrument, quality, resources
from ._warn import CaptureWarning, _warned, warn_once
from .cell import CellStart, capture_cell, should_skip
from .events import Recorder
from .session import background_facts, get_session

_installed: dict[int, CellHooks] = {}


class CellHooks:
    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.start: CellStart | None = None

    def pre_run_cell(self, info: Any) -> None:
        self.start = None
        try:
            session = get_session()
            session.report_write_failures()
            raw = getattr(info, "raw_cell", "") or ""
            if session.enabled and not should_skip(raw):
                recorder = Recorder(session)
                self.start = CellStart(
                    raw, getattr(info, "cell_id", None), utcnow(), time.perf_counter(), recorder
                )
                instrument.STATE.recorder = recorder
                resources.monitor().begin()
        except Exception as exc:
            warn_once("prepare to capture this cell", exc)

    def post_run_cell(self, result: Any) -> None:
        start, self.start = self.start, None
        instrument.STATE.recorder = None
        if start is not None:
            try:
                start.usage = resources.monitor().end()
            except Exception as exc:
                warn_once("measure the cell's resources", exc)
        try:
            session = get_session()
            if start is None or not session.enabled:
                session.flush_metrics()  # explicit mj.log_metric points still land
                return
            session.last_capture = capture_cell(session, self.shell, start, result)
            session.report_write_failures()  # an earlier cell's, already known
            quality.report(session, self.shell)
        except Exception as exc:
            warn_once("capture this cell", exc)


def install(ip: Any) -> None:
    """Start capturing every cell of ``ip`` (idempotent)."""
    if id(ip) in _installed:
        return
    hooks = CellHooks(ip)
    ip.events.register("pre_run_cell", hooks.pre_run_cell)
    ip.events.register("post_run_cell", hooks.post_run_cell)
    _installed[id(ip)] = hooks
    get_session().interactive = True
    background_facts()  # the environment and git state, looked up while the user reads
    try:
        instrument.install()
        instrument.rebind(ip.user_ns)
    except Exception as exc:  # capture by name still works without the wrappers
        warn_once("instrument scikit-learn", exc)
    _end_run_on_kernel_shutdown(ip)


# What the kernel does when asked to shut down, before it exits: jupyter_client (nbclient,
# JupyterLab) sends SIGTERM half its shutdown_wait_time (5 s) after the request, then SIGKILL.
SHUTDOWN_S = 2.0


def _end_run_on_kernel_shutdown(ip: Any) -> None:
    """Finish the run when the kernel is asked to shut down, not only at interpreter exit.

    With joblib's loky workers alive (``n_jobs=2``) the kernel may not exit before its manager
    kills it, and then no ``atexit`` handler runs: the run would stay ``running`` forever.
    """
    kernel = getattr(ip, "kernel", None)
    original = getattr(kernel, "do_shutdown", None)
    if original is None or getattr(original, "__mlops_original__", None) is not None:
        return

    def do_shutdown(restart: bool) -> Any:
        try:
            from . import artifacts

            deadline = time.monotonic() + SHUTDOWN_S

            def left() -> float:
                return max(0.0, deadline - time.monotonic())

            # The run's end first (a few ms): a kernel killed while its last model file is
            # written loses that file, never the run's status. The environment and git state
            # join the run when they come (a queued write), if the kernel lives that long.
            session = get_session()
            session.shutdown(facts_timeout=0.0)
            artifacts.flush(timeout=left())
            quality.wait(timeout=left())
            if background_facts().wait(left()):
                session.store_nowait.wait_for_writes(left())
        except Exception as exc:
            warn_once("finish the run at kernel shutdown", exc)
        return original(restart)

    do_shutdown.__mlops_original__ = original  # type: ignore[attr-defined]
    with contextlib.suppress(AttributeError, TypeError):
        kernel.do_shutdown = do_shutdown


def uninstall(ip: Any) -> None:
    """Stop capturing; buffered metrics are written first."""
    hooks = _installed.pop(id(ip), None)
    if hooks is None:
        return
    for name in ("pre_run_cell", "post_run_cell"):
        with contextlib.suppress(ValueError):
            ip.events.unregister(name, getattr(hooks, name))
    instrument.STATE.recorder = None
    if not _installed:
        instrument.uninstall()
    try:
        get_session().flush_metrics()
    except Exception as exc:
        warn_once("write buffered metrics", exc)


__all__ = ["CaptureWarning", "_warned", "install", "is_installed", "uninstall", "warn_once"]


def is_installed(ip: Any) -> bool:
    return id(ip) in _installed
