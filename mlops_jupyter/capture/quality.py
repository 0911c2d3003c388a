"""After a captured cell: its resources and dataset tags (in its write group), then its data
tests, off the cell's critical path (issue #16).

On the cell's thread :func:`prepare` only notes what it needs (the datasets' objects, names,
fingerprints, where they came from; what the models were trained on) and, when a suite is
known to apply, shows an empty placeholder in the cell. :meth:`CellAfter.write` runs inside
the cell's write group on the store's writer thread: the resource row and the ``source``,
``type`` and ``quality.completeness`` tags of each dataset version. :meth:`CellAfter.submit`
hands the rest to the checker thread, which waits for that group, checks every new version
of a name that has a suite (the object as the cell left it: a pandas object through a
copy-on-write snapshot, an array re-fingerprinted afterwards so a later in-place edit voids
the check instead of faking it), drafts a suite for data first used to train a model, stores
the results, and fills the placeholder with one line (or shows the line late: JupyterLab
puts it in the cell that made the data). Nothing here raises into the user's cell; failures
are reported on the cell's thread, one warning per kind, at the next cell.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import uuid
import weakref
from dataclasses import dataclass, field
from typing import Any

from ._warn import warn_once
from .fingerprint import column_dtypes, dtype_name, resolve

_loaders: dict[int, tuple[Any, str, str]] = {}  # id -> (weakref, kind, function) of loader output
_MAX_LOADERS = 2000
_SPLITS = ("train_test_split",)


@dataclass
class DatasetNote:
    name: str
    obj: Any
    fingerprint: Any  # text; for large data a LazyFingerprint until the writer resolves it
    facts: Any
    tags: dict[str, str]
    derived_from: frozenset[Any] = frozenset()  # upstream dataset fingerprints (maybe lazy)
    snapshot: bool = False  # obj is a copy-on-write snapshot taken by the cell
    gone: bool = False  # the data changed before its fingerprint was taken: not recorded

    def freeze(self) -> None:
        """Keep the content as the cell left it (pandas with copy-on-write: free)."""
        import sys

        pd = sys.modules.get("pandas")
        if pd is None or not isinstance(self.obj, (pd.DataFrame, pd.Series)):
            return
        from .fingerprint import copy_on_write

        if copy_on_write(pd):
            self.obj, self.snapshot = self.obj.copy(deep=False), True


@dataclass
class CellAfter:
    """What one captured cell leaves for after its write (module docstring)."""

    session: Any
    store: Any
    run_id: str
    usage: Any
    datasets: list[DatasetNote] = field(default_factory=list)
    trained: set[str] = field(default_factory=set)  # dataset names a model was fitted on
    shell: Any = None
    parent: Any = None  # the cell's message header, for late output
    placeholder: str | None = None
    execution_id: int | None = None

    # -- on the writer thread, inside the cell's write group --------------------------------

    def write(self, store: Any, execution_id: int) -> None:
        self.execution_id = execution_id
        if self.usage is not None:
            try:
                # SQLite: one INSERT undoes itself alone, no savepoint (two statements more a
                # cell); PostgreSQL: a failed statement aborts the transaction unless in one
                with store.write() if store.dialect != "sqlite" else contextlib.nullcontext():
                    store.record_resources(execution_id, self.run_id, self.usage.as_row())
            except Exception as exc:
                self.session.quality_failures.append(("record the cell's resources", exc))
        for note in self.datasets:
            fp = resolve(note.fingerprint)  # computed once, shared with the cell's record
            if fp is None:
                note.gone = True
                continue
            note.fingerprint = fp
            try:
                with store.write():
                    _write_tags(store, note, execution_id)
            except Exception as exc:
                self.session.quality_failures.append(("tag the dataset", exc))

    # -- on the cell's thread, after the write group is queued ------------------------------

    def submit(self) -> None:
        if not self.datasets:
            return
        suites = known_suites(self.store)
        for note in self.datasets:
            if note.name in suites:
                note.freeze()
        seen = self.session.contents  # contents this session recorded before this cell
        wanted = any(n.name in suites and n.fingerprint not in seen for n in self.datasets) or any(
            name not in suites for name in self.trained
        )
        if wanted:
            self.placeholder = late_placeholder(self.shell)
        checker().put(self)


def prepare(
    session: Any,
    shell: Any,
    start: Any,
    run_id: str,
    datasets: dict[str, tuple[Any, str]],
    described: dict[str, Any],
    sources: dict[str, tuple[str, str | None]],
) -> CellAfter:
    """Note what the cell made, cheaply (no copies, no I/O); ``start`` is its ``CellStart``."""
    recorder = start.recorder
    after = CellAfter(session, session.store_nowait, run_id, start.usage, shell=shell)
    _note_loaders(recorder)
    splits = _split_outputs(recorder)
    after.trained = trained_names(recorder, datasets)
    for name, (obj, fp) in datasets.items():
        facts = described.get(name)
        if facts is None:
            continue
        tags = {"type": infer_type(obj)}
        tags.update(_source_tags(name, obj, sources.get(name), splits))
        upstream = session.derived.get(name, (frozenset(), frozenset()))[0]
        after.datasets.append(DatasetNote(name, obj, fp, facts, tags, frozenset(upstream)))
    after.parent = _parent_header(shell)
    return after


def trained_names(recorder: Any, datasets: dict[str, tuple[Any, str]]) -> set[str]:
    """The dataset names the cell fitted models on: the objects themselves, or a column
    selection of one (``fit(df[features], df["target"])`` was fitted on ``df``)."""
    ids = {id(obj): name for name, (obj, _fp) in datasets.items()}
    columns = {
        name: {str(c) for c in list(getattr(obj, "columns", []))[:1000]}
        for name, (obj, _fp) in datasets.items()
    }
    out: set[str] = set()
    for ev in getattr(recorder, "events", None) or []:
        if ev.kind != "fit":
            continue
        for key, cols in zip(ev.data, ev.extra.get("data_columns") or [None] * len(ev.data)):
            if key in ids and recorder.alive(key) is datasets[ids[key]][0]:
                out.add(ids[key])
                continue
            for name, have in columns.items():
                if cols and have and cols <= have:
                    out.add(name)
                    break
    return out


# -- tags --------------------------------------------------------------------------------------


def infer_type(obj: Any) -> str:
    """``tabular``, ``text``, ``image``, ``timeseries`` (pandas or numpy, from dtypes)."""
    import sys

    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(obj, (pd.DataFrame, pd.Series)):
        if isinstance(obj.index, (pd.DatetimeIndex, pd.PeriodIndex)):
            return "timeseries"
        dtypes = column_dtypes(obj)
        if any(getattr(d, "kind", "") == "M" for d in dtypes):  # numpy, tz-aware, Arrow
            return "timeseries"
        textual = [
            getattr(d, "kind", "") == "O" or dtype_name(d) in ("str", "string") for d in dtypes
        ]
        if textual and all(textual):  # every column holds text: long text is "text"
            first = obj if isinstance(obj, pd.Series) else obj.iloc[:, 0]
            if _long_text(first.iloc[:50].tolist()):
                return "text"
        return "tabular"
    ndim = getattr(obj, "ndim", 1)
    if ndim >= 3:
        return "image"
    kind = getattr(getattr(obj, "dtype", None), "kind", "")
    if kind in ("U", "S", "O") and ndim == 1 and _long_text(list(obj[:50])):
        return "text"
    return "tabular"


def _long_text(values: list[Any]) -> bool:
    words = [v for v in values if isinstance(v, str)]
    return bool(words) and sum(len(w.split()) for w in words) / len(words) >= 4


def _note_loaders(recorder: Any) -> None:
    for ev in getattr(recorder, "events", None) or []:
        if ev.kind not in ("load", "generate"):
            continue
        for key in ev.outputs:
            obj = recorder.alive(key)
            if obj is None:
                continue
            with contextlib.suppress(TypeError):
                _loaders[id(obj)] = (weakref.ref(obj), ev.kind, ev.name)
            for part in ("data", "target", "frame", "images"):
                inner = getattr(obj, part, None) if not isinstance(obj, dict) else obj.get(part)
                if inner is not None:
                    with contextlib.suppress(TypeError):
                        _loaders[id(inner)] = (weakref.ref(inner), ev.kind, ev.name)
    if len(_loaders) > _MAX_LOADERS:
        for key in [k for k, (ref, _k, _n) in _loaders.items() if ref() is None]:
            del _loaders[key]


def _split_outputs(recorder: Any) -> dict[int, str]:
    out: dict[int, str] = {}
    for ev in getattr(recorder, "events", None) or []:
        if ev.kind == "split":
            out.update({key: ev.name for key in ev.outputs})
    return out


def _source_tags(
    name: str, obj: Any, source: tuple[str, str | None] | None, splits: dict[int, str]
) -> dict[str, str]:
    if source is not None:
        path, digest = source
        tags = {"source": "file", "source.path": path}
        if digest:
            tags["source.hash"] = digest
        return tags
    entry = _loaders.get(id(obj))
    if entry is not None and entry[0]() is obj:
        kind = "loader" if entry[1] == "load" else "generator"
        return {"source": kind, "source.loader": entry[2]}
    if id(obj) in splits:
        return {"source": "split", "source.split": splits[id(obj)]}
    return {"source": "cell"}


def _write_tags(store: Any, note: DatasetNote, execution_id: int) -> None:
    version = store.find_version_number(note.name, note.fingerprint)
    if version is None:
        return
    tags = dict(note.tags)
    if tags.get("source") in ("cell", "split"):
        tags["source.cell"] = str(execution_id)
        upstream = sorted(f for f in map(resolve, note.derived_from) if f is not None)
        if upstream:
            names = [f"{r['name']}@{r['version']}" for r in store.find_dataset_versions(upstream)]
            if names:
                tags["source.derived_from"] = ", ".join(sorted(set(names))[:10])
    profile = note.facts.profile
    if profile is None:
        with contextlib.suppress(Exception):
            profile = store.get_dataset_content(note.fingerprint).get("profile")
    completeness = _completeness(profile or {})
    if completeness is not None:
        tags["quality.completeness"] = f"{completeness:.4g}"
    existing = store.dataset_tags(note.name, version)
    # Tags describe the version as it was first recorded: a later cell that reads it (and
    # so sees it come from "cell") does not overwrite where it came from.
    fresh = {k: v for k, v in tags.items() if k not in existing}
    for kind in ("source", "type", "quality"):
        part = {k: v for k, v in fresh.items() if k.split(".")[0] == kind}
        store.set_dataset_tags(note.name, part, version=version, kind=kind, by="mlops-jupyter")


def _completeness(profile: dict[str, Any]) -> float | None:
    cells = nulls = 0
    for column, prof in profile.items():
        if column.startswith("__") or not isinstance(prof, dict):
            continue
        cells += int(prof.get("count") or 0) + int(prof.get("nulls") or 0)
        nulls += int(prof.get("nulls") or 0)
    return None if not cells else 1 - nulls / cells


# -- which suites exist (for the placeholder decision, without waiting on the store) -------------

_suites: dict[str, dict[str, int]] = {}


def known_suites(store: Any) -> dict[str, int]:
    key = str(getattr(store, "path", ""))
    found = _suites.get(key)
    if found is None:
        try:
            found = store.suite_versions_now()
        except Exception:
            found = {}
        _suites[key] = found
    return found


def note_suite(store: Any, name: str, version: int) -> None:
    known_suites(store)[name] = int(version)


def forget_suites() -> None:
    _suites.clear()


# -- late output -------------------------------------------------------------------------------


def _parent_header(shell: Any) -> Any:
    pub = getattr(shell, "display_pub", None)
    if pub is None or not hasattr(pub, "set_thread_parent"):
        return None
    with contextlib.suppress(Exception):
        return dict(pub.parent_header)
    return None


def late_placeholder(shell: Any) -> str | None:
    """An empty output with a display id, filled later (only under a kernel)."""
    pub = getattr(shell, "display_pub", None)
    if pub is None or not hasattr(pub, "set_thread_parent"):
        return None
    display_id = f"mlops-check-{uuid.uuid4().hex[:12]}"
    try:
        pub.publish(
            {"text/plain": "", "text/html": ""}, metadata={}, transient={"display_id": display_id}
        )
    except Exception:
        return None
    return display_id


def show_late(after: CellAfter, html: str, text: str) -> None:
    """Put one line into the cell that made the data (see the module docstring)."""
    shell, parent = after.shell, after.parent
    pub = getattr(shell, "display_pub", None)
    if pub is None or parent is None or not hasattr(pub, "set_thread_parent"):
        after.session.quality_lines.append(text)  # a plain shell: shown by the next cell
        return
    data = {"text/plain": text, "text/html": html}
    current = getattr(pub, "_parent_header_global", None)
    targets = [parent]
    if current and current.get("msg_id") != parent.get("msg_id"):
        targets.append(dict(current))  # headless runners read only the running cell's messages
    for header in targets:
        token = pub.set_thread_parent(header)
        try:
            transient = {"display_id": after.placeholder} if after.placeholder else {}
            pub.publish(data, metadata={}, transient=transient, update=bool(after.placeholder))
        finally:
            pub.reset_thread_parent(token)
        if not after.placeholder:
            break  # a new output goes to the cell that made the data, once
    if after.placeholder:
        # A runner that stopped reading that cell before this arrived gets it again with the
        # next cell's messages (an update by display id is idempotent).
        after.session.quality_resend.append((after.placeholder, data))


# -- the checker thread ------------------------------------------------------------------------


class Checker:
    def __init__(self) -> None:
        self.jobs: queue.Queue[CellAfter | None] = queue.Queue()
        self.pending = 0
        self.cv = threading.Condition()
        self.thread = threading.Thread(target=self._run, name="mlops-checks", daemon=True)
        self.thread.start()

    def put(self, after: CellAfter) -> None:
        with self.cv:
            self.pending += 1
        self.jobs.put(after)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every submitted cell is handled; False on timeout."""
        with self.cv:
            return self.cv.wait_for(lambda: self.pending == 0, timeout)

    def _run(self) -> None:
        while True:
            after = self.jobs.get()
            try:
                if after is not None and after.session.is_open():
                    from .checking import handle

                    handle(after)
                    after.store.wait_for_writes()  # wait() returns once results are committed
            except Exception as exc:
                with contextlib.suppress(Exception):
                    if after.session.is_open():  # not a store closed under a finished session
                        after.session.quality_failures.append(("check the cell's data", exc))
            finally:
                after = None  # (it holds the cell's data: not kept until the next cell's)
                with self.cv:
                    self.pending -= 1
                    self.cv.notify_all()


_checker: Checker | None = None
_checker_lock = threading.Lock()


def checker() -> Checker:
    global _checker
    with _checker_lock:
        if _checker is None or not _checker.thread.is_alive():
            if _checker is None:
                import atexit

                atexit.register(wait, 10.0)  # runs before the store's own wait (LIFO)
            _checker = Checker()
        return _checker


def wait(timeout: float | None = 30.0) -> bool:
    """Wait for the data tests of the cells so far (tests, shutdown, ``%mlops``)."""
    return _checker.wait(timeout) if _checker is not None else True


def report(session: Any, shell: Any) -> None:
    """On the cell's thread: warn about failures and print lines a plain shell could not show."""
    failures, session.quality_failures = session.quality_failures, []
    for kind, exc in failures:
        warn_once(kind, exc)
    lines, session.quality_lines = session.quality_lines, []
    for line in lines:
        print(line)
    resend, session.quality_resend = session.quality_resend, []
    pub = getattr(shell, "display_pub", None)
    for display_id, data in resend if pub is not None else []:
        with contextlib.suppress(Exception):
            pub.publish(data, metadata={}, transient={"display_id": display_id}, update=True)
