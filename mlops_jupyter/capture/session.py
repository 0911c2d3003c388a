"""The process-wide capture session: which store, experiment and run the next facts go to.

:func:`get_session` returns one :class:`Session` per process, created lazily. The store is
opened on first use, the run is created on the first fact that needs one (:meth:`ensure_run`),
and the environment, git state and kernel id are looked up once per run.

Environment variables (set by the export runner for headless runs):
``MLOPS_JUPYTER_EXPERIMENT`` (experiment name), ``MLOPS_JUPYTER_SOURCE=headless`` (source of the
runs), ``MLOPS_JUPYTER_PARENT_RUN`` (parent of the first run).
"""

from __future__ import annotations

import atexit
import contextlib
import getpass
import os
import re
import socket
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from ..store.points import iso_utc
from . import flusher
from .detect import FingerprintCache
from .links import Links
from .secrets import redact_text

ENV_EXPERIMENT = "MLOPS_JUPYTER_EXPERIMENT"
ENV_SOURCE = "MLOPS_JUPYTER_SOURCE"
ENV_PARENT_RUN = "MLOPS_JUPYTER_PARENT_RUN"
DEFAULT_EXPERIMENT = "default"
CHECK_EVERY_S = 1.0  # cells back to back look at the store file this often (ensure_run)


class Session:
    """Where captured facts go. Not thread-safe for writers other than the kernel's thread."""

    def __init__(self, store: Any = None) -> None:
        self._store = store
        self.interactive = False  # set by hooks.install: cells are being captured
        self.enabled = True  # %mlops off / on
        self._experiment: str | None = os.environ.get(ENV_EXPERIMENT) or None
        self.run_id: str | None = None
        self.run_name: str | None = None
        # What the current run has recorded: key -> (value, source). Drives child runs.
        self.params: dict[str, tuple[Any, str]] = {}
        self.has_results = False  # the current run has metrics or models
        self.explicit_params = False  # mj.log_param was called since the last captured cell
        # log_metric points: (key, value, step, epoch seconds or ISO text)
        self.pending_metrics: list[tuple[str, float, int | None, Any]] = []
        self.last_capture: Any = None  # cell.Captured of the last captured cell
        self.last_model: str | None = None  # fingerprint of the run's latest fitted model
        self.fp_cache = FingerprintCache()  # dataset fingerprints by object id
        self.model_fps: dict[int, str] = {}  # id(estimator) -> fingerprint, once captured
        # name -> (dataset fingerprints, model fingerprints) the cell that wrote it had read
        self.derived: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
        self.links = Links()  # predictions, known data and models, by weak reference
        self.datasets: dict[str, Any] = {}  # dataset name -> weakref of the object recorded
        self.dataset_columns: dict[str, frozenset[str]] = {}
        self.contents: set[str] = set()  # dataset fingerprints this session wrote or queued
        self.key_owners: dict[str, dict[str, str]] = {}  # run id -> metric key -> model name
        self.write_failures: list[BaseException] = []  # from the store's writer thread
        self.quality_failures: list[tuple[str, BaseException]] = []  # checker thread (#16)
        self.quality_lines: list[str] = []  # data test lines a plain shell shows next cell
        self.quality_resend: list[tuple[str, dict[str, str]]] = []  # late lines, sent again
        self._parent_for_next: str | None = os.environ.get(ENV_PARENT_RUN) or None
        self._runs_started = 0
        self._facts_pending: BackgroundFacts | None = None
        self._lock = threading.RLock()
        self.lock = self._lock  # runs and params; the metric buffer has its own lock
        self._run_generation = 0  # the store file generation the run lives in
        self._run_row: dict[str, Any] | None = None  # the current run, to restore it (#13)
        self._checked_at = 0.0  # when the cell's thread last looked at the store file
        self._hooked: Any = None  # the store our reopen hook is on
        self._metrics_lock = threading.Lock()  # the buffer, between this thread and the flusher
        self._flusher: flusher.Flusher | None = None
        self.flushed = flusher.Flushed()  # ids written while a cell ran: adopted by the cell
        self._ended = False
        _register_atexit()  # metrics logged before any run must still be written at exit

    # -- store and experiment ----------------------------------------------------------------

    @property
    def store(self) -> Any:
        """The store, once the writes capture queued are committed (read your own writes)."""
        store = self.store_nowait
        if self._facts_pending is not None:  # the run's environment is still being looked up
            self._facts_pending.wait(10.0)
            self._facts_pending = None
        store.wait_for_writes()
        return store

    @property
    def store_nowait(self) -> Any:
        """The store without waiting for queued writes: capture's own hot path."""
        if self._store is None:
            from ..store import open_store

            self._store = open_store()
        return self._store

    def is_open(self) -> bool:
        """False once the shared store was closed under us (``close_all``)."""
        store = self._store
        if store is None:
            return True
        return _shared_stores().get(store.key) is store

    @property
    def experiment(self) -> str:
        if self._experiment is None:
            self._experiment = default_experiment()
        return self._experiment

    @property
    def source(self) -> str:
        if os.environ.get(ENV_SOURCE, "").lower() == "headless":
            return "headless"
        return "interactive" if self.interactive else "script"

    def set_experiment(self, name: str) -> str:
        """Switch experiment; the current run (if any) ends and the next one starts there."""
        name = (name or "").strip()
        from ..errors import InvalidInput

        if not name:
            raise InvalidInput("An experiment name cannot be empty. Pass a name, e.g. 'churn'.")
        self.store.ensure_experiment(name)
        if name != self.experiment and self.run_id is not None:
            self.end_run()
        self._experiment = name
        return name

    # -- runs --------------------------------------------------------------------------------

    def ensure_run(self) -> str:
        """The current run's id, starting a run if there is none (or again, under the same name
        and params, in a store file that was deleted or replaced since)."""
        store = self._store
        if store is not None and self.run_id is not None:
            # A stat lets go of the GIL, which woke IPython's history thread into a commit per
            # cell (+0.8 ms a trivial cell, #18): back to back, the cell's thread looks once a
            # second; the writer looks before every transaction and restores the run there.
            now = time.monotonic()
            if now - self._checked_at >= CHECK_EVERY_S:
                self._checked_at = now
                store.ensure_current()
            if store.generation != self._run_generation and self._still_stale(store):
                with self._lock:
                    self.run_id = None  # that run is in the old file
                    self.start_run(self.run_name, inherit=True)
        if self.run_id is None:
            with self._lock:  # the flusher's thread may ask at the same moment
                if self.run_id is None:
                    self.start_run()
        assert self.run_id is not None
        return self.run_id

    def start_run(
        self,
        name: str | None = None,
        *,
        parent_run_id: str | None = None,
        inherit: bool = False,
    ) -> str:
        """End the current run (if any) and start a new one; ``inherit`` copies its params."""
        with self._lock:
            name = redact_text(name) if name else name  # a token pasted as a run name
            inherited = dict(self.params) if inherit else {}
            if self.run_id is not None:
                self.end_run()
            if parent_run_id is None and self._parent_for_next:
                parent_run_id, self._parent_for_next = self._parent_for_next, None
            facts = run_facts()
            known = background_facts()
            first = self.interactive and not self._runs_started
            self._runs_started += 1
            env_id = git_commit = git_dirty = None
            if known.done.is_set():  # looked up while the notebook started: no wait
                env_id = self._environment_id(known.environment)
            if first and known.cwd == Path.cwd():
                git_commit, git_dirty = known.git if known.done.is_set() else (None, None)
            else:  # a later run: the state of the code now (two quick git calls)
                git_commit, git_dirty = git_state(Path.cwd())
            row = self.store.create_run(
                self.experiment,
                name=name,
                parent_run_id=parent_run_id,
                source=self.source,
                notebook_path=facts.get("notebook_path"),
                kernel_id=facts.get("kernel_id"),
                git_commit=git_commit,
                git_dirty=git_dirty,
                environment_id=env_id,
                user=facts.get("user"),
                host=facts.get("host"),
            )
            if not known.done.is_set():
                self._facts_pending = known
                known.then(self._later_run_facts(row["id"]))
            self.run_id, self.run_name = row["id"], row["name"]
            self._run_row = row
            self._run_generation = self.store_nowait.generation
            self._hook(self.store_nowait)
            self.params = {}
            self.has_results = False
            self.last_model = None
            if inherited:
                values = {k: v for k, (v, _src) in inherited.items()}
                self.store.log_params(self.run_id, values, source="inherited")
                self.params = {k: (v, "inherited") for k, v in values.items()}
            return self.run_id

    def _environment_id(self, environment: Any) -> str | None:
        return self.store.record_environment(*environment) if environment is not None else None

    def _later_run_facts(self, run_id: str) -> Any:
        """What to do once the environment and git state are known: add them to the run."""

        def attach(known: BackgroundFacts) -> None:
            def write(store: Any) -> None:
                env_id = store.record_environment(*known.environment) if known.environment else None
                commit, dirty = known.git
                store.set_run_facts(
                    run_id, environment_id=env_id, git_commit=commit, git_dirty=dirty
                )

            self.store_nowait.write_later(write, lambda exc: self.write_failures.append(exc))

        return attach

    def end_run(self, status: str = "finished") -> None:
        """Flush buffered metrics and close the current run (no-op without one)."""
        with self._lock:
            if self.run_id is None:
                return
            self.flush_metrics()
            self.store.end_run(self.run_id, status)
            self.run_id = self.run_name = None
            self.params = {}
            self.has_results = False
            self.last_model = None

    def start_child_run(self) -> str:
        """A new run, child of the current one, inheriting its params."""
        parent = self.run_id
        return self.start_run(parent_run_id=parent, inherit=True)

    def _still_stale(self, store: Any) -> bool:
        """Whether the run is not in the store's current file, once a reopen on another thread
        (which holds the store's lock while it puts the run back) is done."""
        lock = getattr(store, "_lock", None)
        if lock is None:
            return True
        with lock:
            return bool(store.generation != self._run_generation)

    def _hook(self, store: Any) -> None:
        """Have ``store`` put the current run back (same id, same params) into a file that
        replaced its own, before anything of the run is written there (see ensure_current)."""
        if self._hooked is store or not hasattr(store, "reopen_hooks"):
            return
        self._hooked = store
        ref = weakref.ref(self)

        def restore(st: Any) -> None:
            me = ref()
            if me is None or me._ended or me._store is not st or me._run_row is None:
                return
            if me.run_id != me._run_row.get("id"):
                return
            for _ in range(3):  # the cell's thread may be setting a param
                try:
                    params = dict(me.params)
                    break
                except RuntimeError:
                    continue
            else:
                params = {}
            st.restore_run(me._run_row, params)
            me._run_generation = st.generation

        store.reopen_hooks.append(restore)

    def report_write_failures(self) -> None:
        """Warn (on the caller's thread: the notebook's) about cell records that failed, and
        say what the writer thread noticed (a store file replaced)."""
        store = self._store
        if store is not None and getattr(store, "deferred_warnings", None):
            from ..store.base import warn_replaced

            while store.deferred_warnings:  # the writer may append meanwhile: pop, not swap
                warn_replaced(store.deferred_warnings.pop(0), stacklevel=3)
        if not self.write_failures:
            return
        from ._warn import warn_once

        with self._lock:
            failures, self.write_failures = self.write_failures, []
        for exc in failures:
            warn_once("write a cell's record to the lineage store", exc)

    # -- what the wrappers report between cells -----------------------------------------------

    def note_prediction(self, result: Any, est: Any, x: Any) -> None:
        self.links.note_prediction(result, est, x)

    def note_data(self, obj: Any) -> None:
        self.links.note_data(obj)

    # -- buffered metrics --------------------------------------------------------------------

    def buffer_metric(self, key: str, value: float, step: int | None) -> None:
        self.pending_metrics.append((key, value, step, time.time()))
        if self._flusher is None:  # written within a second from now on (flusher.py)
            self._flusher = flusher.start(self)

    def take_metrics(self) -> list[tuple[str, float, int | None, str]]:
        """Remove and return the buffered points, times as ISO-8601 UTC text."""
        with self._metrics_lock:
            n = len(self.pending_metrics)
            pending = self.pending_metrics[:n]
            del self.pending_metrics[:n]
        return [(k, v, s, iso_utc(t)) for k, v, s, t in pending]

    def restore_metrics(self, pending: list[tuple[str, float, int | None, Any]]) -> None:
        """Put points back at the front of the buffer (their write failed)."""
        with self._metrics_lock:
            self.pending_metrics[:0] = pending

    def flush_metrics(self) -> int:
        """Write buffered ``log_metric`` points to the current run; returns how many.

        The write runs in the flusher's thread (this one waits), so Ctrl-C during it can
        neither drop nor duplicate points.
        """
        n = len(self.pending_metrics)
        if not n:
            return 0
        if self._flusher is None:
            self._flusher = flusher.start(self)
        self._flusher.flush()
        return n

    # -- shutdown ----------------------------------------------------------------------------

    def shutdown(self, facts_timeout: float = 10.0) -> None:
        """At interpreter exit: flush and finish the run (failed if a script died on an error).
        The environment and git state join the run first, if they come within
        ``facts_timeout`` seconds."""
        if self._ended:
            return
        self._ended = True
        if _background is not None:
            _background.wait(facts_timeout)
        try:
            if self.run_id is None and not self.pending_metrics:
                return
            failed = not self.interactive and getattr(sys, "last_value", None) is not None
            self.flush_metrics()  # starts the run if metrics were logged before any
            self.end_run("failed" if failed else "finished")
        except Exception as exc:  # the interpreter is going away: say what was not saved
            self._report_unsaved(exc)

    def _report_unsaved(self, exc: BaseException) -> None:
        """One line on stderr; buffered metric points go to a JSON-lines file, never lost."""
        import json
        import tempfile

        pending = self.take_metrics()
        saved = ""
        if pending:
            rows = [{"key": k, "value": v, "step": s, "time": t} for k, v, s, t in pending]
            for folder in (Path.cwd(), Path(tempfile.gettempdir())):
                target = folder / f"mlops-unsaved-metrics-{os.getpid()}.jsonl"
                try:
                    target.write_text("".join(json.dumps(r) + "\n" for r in rows))
                except OSError:
                    continue
                saved = f" {len(rows)} metric points were saved to {target} instead."
                break
            else:
                saved = f" {len(rows)} metric points could not be saved anywhere."
        print(
            f"mlops-jupyter: could not finish the run in the lineage store ({exc}).{saved}",
            file=sys.stderr,
        )


_open_stores: dict[Any, Any] | None = None


def _shared_stores() -> dict[Any, Any]:
    global _open_stores
    if _open_stores is None:
        from ..store import _open

        _open_stores = _open
    return _open_stores


_session: Session | None = None
_session_lock = threading.Lock()
_atexit_registered = False


def get_session() -> Session:
    """The process-wide session (created on first use, renewed if its store was closed)."""
    global _session
    session = _session
    if session is not None and session.is_open():
        return session
    with _session_lock:
        if _session is None or not _session.is_open():
            _session = Session()
        return _session


def reset_session(store: Any = None) -> Session:
    """Finish the current session's run and start a fresh session (tests, ``%load_ext``)."""
    global _session
    with _session_lock:
        old = _session
        _session = Session(store)
    if old is not None and old.is_open():
        with contextlib.suppress(Exception):
            old.end_run()
    if old is not None and old._flusher is not None:
        old._flusher.stop()
    return _session


def _register_atexit() -> None:
    global _atexit_registered
    if not _atexit_registered:
        _atexit_registered = True
        atexit.register(_shutdown)


def _shutdown() -> None:
    if _session is not None and _session.is_open():
        _session.shutdown()


# -- facts about the process, looked up once per run --------------------------------------------


def notebook_path() -> str | None:
    """The notebook's path, wherever the kernel can tell.

    JupyterLab/Notebook and our own runner: ``JPY_SESSION_NAME`` / ``__session__``; VS Code:
    ``__vsc_ipynb_file__``; papermill and ``jupyter nbconvert --execute``: the ``.ipynb``
    argument of the process that started the kernel.
    """
    path = os.environ.get("JPY_SESSION_NAME")
    if not path:
        ip = _ipython()
        if ip is not None:
            path = ip.user_ns.get("__session__") or ip.user_ns.get("__vsc_ipynb_file__")
    if not path or not isinstance(path, str):
        path = _notebook_of_parent()
    if not path or not isinstance(path, str):
        return None
    return path


_parent_notebook: tuple[int, str | None] | None = None


def _notebook_of_parent() -> str | None:
    """The first ``*.ipynb`` argument of the parent process (papermill, nbconvert), if any."""
    global _parent_notebook
    ppid = os.getppid()
    if _parent_notebook is not None and _parent_notebook[0] == ppid:
        return _parent_notebook[1]
    found = None
    try:
        args = Path(f"/proc/{ppid}/cmdline").read_bytes().split(b"\0")
        cwd = Path(os.readlink(f"/proc/{ppid}/cwd"))
    except OSError:
        args, cwd = [], Path.cwd()
    for raw in args[1:]:
        arg = raw.decode(errors="replace")
        if arg.endswith(".ipynb") and not arg.startswith("-"):
            candidate = Path(arg) if Path(arg).is_absolute() else cwd / arg
            found = str(candidate)
            break
    _parent_notebook = (ppid, found)
    return found


def default_experiment() -> str:
    """The notebook's file name without extension, else ``"default"``."""
    path = notebook_path()
    if path and path.endswith(".ipynb"):
        return Path(path).stem or DEFAULT_EXPERIMENT
    return DEFAULT_EXPERIMENT


def run_facts() -> dict[str, Any]:
    """User, host, kernel id, notebook path (cheap; see :func:`background_facts` for the rest)."""
    return {
        "notebook_path": notebook_path(),
        "kernel_id": kernel_id(),
        "user": _user(),
        "host": socket.gethostname(),
    }


class BackgroundFacts:
    """The environment (every installed package) and the git state, looked up once per
    process on a thread of their own: they take 0.2-0.8 s, which no cell should wait for."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.cwd = Path.cwd()
        self.environment: tuple[str, str, dict[str, str]] | None = None
        self.git: tuple[str | None, bool | None] = (None, None)
        self._then: list[Any] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._run, name="mlops-run-facts", daemon=True).start()

    def _run(self) -> None:
        from .instrument import wait_until_idle

        wait_until_idle()  # the scan takes 0.2-0.8 s of CPU: not while a cell computes
        try:
            self.environment = environment()
        except Exception:
            self.environment = None
        self.git = git_state(self.cwd)
        with self._lock:
            self.done.set()
            callbacks, self._then = self._then, []
        for callback in callbacks:
            with contextlib.suppress(Exception):
                callback(self)

    def wait(self, timeout: float) -> bool:
        """Wait for the facts (the lookup starts now if it was waiting for an idle kernel)."""
        from .instrument import awaited

        if self.done.is_set():
            return True
        with awaited():
            return self.done.wait(timeout)

    def then(self, callback: Any) -> None:
        """Call ``callback(self)`` once the facts are known (now, if they are)."""
        with self._lock:
            if not self.done.is_set():
                self._then.append(callback)
                return
        callback(self)


_background: BackgroundFacts | None = None


def background_facts() -> BackgroundFacts:
    """Start looking the slow facts up (``%load_ext`` does it first thing), or the lookup."""
    global _background
    with _session_lock:
        if _background is None:
            _background = BackgroundFacts()
        return _background


def kernel_id() -> str | None:
    kernelapp = sys.modules.get("ipykernel.kernelapp")
    if kernelapp is None:
        return None
    try:
        app = kernelapp.IPKernelApp.instance()
        name = Path(app.connection_file).name
    except Exception:
        return None
    return name.removeprefix("kernel-").removesuffix(".json") or None


def git_state(cwd: Path, timeout: float = 2.0) -> tuple[str | None, bool | None]:
    """``(commit, dirty)`` of the git repository holding ``cwd``, or ``(None, None)``."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if head.returncode != 0:
            return None, None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
        return head.stdout.strip() or None, dirty
    except (OSError, subprocess.SubprocessError):
        return None, None


_environment: tuple[str, str, dict[str, str]] | None = None


def environment() -> tuple[str, str, dict[str, str]]:
    """``(python_version, platform, {package: version})``, computed once per process."""
    global _environment
    if _environment is None:
        import importlib.metadata
        import platform

        packages: dict[str, str] = {}
        for dist in importlib.metadata.distributions():
            # A wheel's folder says name and version ("scikit_learn-1.9.1.dist-info"): reading
            # every METADATA file instead takes ten times longer (0.3 s for 300 packages).
            folder = getattr(getattr(dist, "_path", None), "name", "")
            if folder.endswith(".dist-info"):
                name, _, version = folder[: -len(".dist-info")].partition("-")
                if name and version:
                    packages.setdefault(_canonical(name), version)
                    continue
            name = dist.name
            if name:
                packages.setdefault(_canonical(str(name)), str(dist.version))
        _environment = (platform.python_version(), platform.platform(), packages)
    return _environment


def _canonical(name: str) -> str:
    """PEP 503: ``Scikit_Learn`` and ``scikit-learn`` are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:
        return None


def _ipython() -> Any:
    mod = sys.modules.get("IPython")
    if mod is None:
        return None
    try:
        return mod.get_ipython()
    except Exception:
        return None
