"""A cell's record as plain rows (prepared on the cell's thread) and their one write group.

:func:`prepare` turns what :mod:`.cell` decided into rows and lineage edges, reading live
objects and the session now (nothing of it may be read later: the next cell changes them).
:meth:`CellRecord.apply` writes those rows (on the store's writer thread, see
``StoreBase.write_later``); every statement is a bulk ``executemany``, so a search with
thousands of candidates is still one short write. The execution's id exists only once its row
is inserted: edges and rows name it ``EXECUTION`` until then.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..store.base import new_ids
from . import artifacts
from .assemble import Child, ModelRecord, Point
from .fingerprint import resolve
from .record import write_dataset
from .session import Session

Edge = tuple[str, str, str, str, str]
EXECUTION = "\x00execution"  # stands for the execution's id until its row exists


@dataclass
class CellRecord:
    run_id: str
    execution: dict[str, Any]  # the add_execution() arguments
    params: dict[str, dict[str, Any]]  # source -> {key: value}
    explicit_since: str | None  # tie mj.log_param params to this execution
    datasets: list[tuple[str, Any, str | None, str | None]]  # name, facts, path, hash
    metrics: list[tuple[str, float | None, int | None, str | None]]
    elsewhere: list[tuple[str, str, float, int | None]]  # run, key, value, step
    models: list[tuple[str, ModelRecord]]  # run id, model
    children: list[tuple[str, str, str]]  # id, parent id, name
    child_params: list[tuple[str, str, Any, str]]
    child_metrics: list[tuple[str, str, float | None, int | None]]
    origins: list[tuple[str, str, str, str | None, str | None, str | None, dict[str, Any]]]
    edges: list[Edge]
    execution_id: int | None = field(default=None)

    def apply(self, store: Any) -> int:
        """Write every row (call inside one write group); returns the execution's id."""
        ex = store.add_execution(self.run_id, **self.execution)
        self.execution_id = ex
        for source, values in self.params.items():
            store.log_params(self.run_id, values, execution_id=ex, source=source)
        if self.explicit_since is not None:
            store.attach_explicit_params(self.run_id, ex, self.explicit_since)
        for name, facts, path, digest in self.datasets:
            write_dataset(
                store,
                name,
                facts,
                run_id=self.run_id,
                execution_id=ex,
                source_path=path,
                source_hash=digest,
            )
        store.log_metrics(self.run_id, self.metrics, execution_id=ex)
        store.log_metrics_many(self.elsewhere, execution_id=ex)
        by_parent: dict[str, list[tuple[str, str]]] = {}
        for child_id, parent_id, name in self.children:
            by_parent.setdefault(parent_id, []).append((child_id, name))
        for parent_id in _parents_first(self.children):
            rows = by_parent[parent_id]
            store.create_child_runs(parent_id, [n for _i, n in rows], ids=[i for i, _n in rows])
        store.log_params_many(self.child_params, execution_id=ex)
        store.log_metrics_many(self.child_metrics, execution_id=ex)
        for run_id, model in self.models:
            store.record_model(
                model.fingerprint,
                class_name=model.class_name,
                params=model.params,
                artifact_hash=artifacts.known_hash(store.key, model.fingerprint),
                name=model.name,
                run_id=run_id,
                execution_id=ex,
            )
        store.record_metric_origins(self.origins, execution_id=ex)
        edges: list[tuple[str, ...]] = []
        for edge in self.edges:  # fingerprints of large data are computed now (resolve)
            row = tuple(str(ex) if v is EXECUTION else resolve(v) for v in edge)
            if None not in row:
                edges.append(row)
        store.add_edges(list(dict.fromkeys(edges)), run_id=self.run_id, execution_id=ex)
        return ex


def _parents_first(children: list[tuple[str, str, str]]) -> list[str]:
    """Parent ids in an order that creates every parent before its children."""
    made = {c[0] for c in children}
    order: list[str] = []
    for _child, parent, _name in children:
        if parent not in order and parent not in made:
            order.append(parent)
    for _child, parent, _name in children:
        if parent in made and parent not in order:
            order.append(parent)
    return order


def prepare(
    session: Session,
    *,
    run_id: str,
    execution: dict[str, Any],
    params: dict[str, dict[str, Any]],
    explicit_since: str | None,
    datasets: dict[str, tuple[Any, str]],
    described: dict[str, Any],
    sources: dict[str, tuple[str, str | None]],
    points: list[Point],
    pending: list[tuple[str, float, int | None, str]],
    elsewhere: list[tuple[str, Point]],
    models: list[ModelRecord],
    children: list[Child],
    inherit: dict[str, Any],
    alive: Any,
    reads: list[str],
    writes: list[str],
    ns: dict[str, Any],
) -> tuple[CellRecord, list[str]]:
    """The rows of one cell, and the ids its child runs will have."""
    fps = _Fingerprints(session, datasets, alive)
    ids = new_ids(len(children))
    parent_name = session.run_name or "run"
    rows: list[tuple[str, str, str]] = []
    child_params: list[tuple[str, str, Any, str]] = []
    child_metrics: list[tuple[str, str, float | None, int | None]] = []
    placed = [(run_id, p) for p in points] + list(elsewhere)
    placed_models = [(run_id, m) for m in models]
    for child, child_id in zip(children, ids):
        parent_id = run_id if child.parent is None else ids[child.parent]
        rows.append((child_id, parent_id, f"{parent_name} · {child.label}"))
        own = child.params
        if child.inherit:
            for k, v in inherit.items():
                if k not in own:
                    child_params.append((child_id, k, v, "inherited"))
        for k, (v, src) in own.items():
            child_params.append((child_id, k, v, src))
        for p in child.points:
            child_metrics.append((child_id, p.key, p.value, p.step))
        if child.inherit:  # a search's candidates are self-describing: no origins, no edges
            for p in child.points:
                placed.append((child_id, p))
        for m in child.models:
            placed_models.append((child_id, m))
    edges = _edges(session, datasets, sources, reads, writes, run_id, ns, points)
    for _run, model in placed_models:
        edges.append(("execution", EXECUTION, "wrote", "model", model.fingerprint))
        edges.extend(
            ("dataset", fps[i], "trained_on", "model", model.fingerprint)
            for i in model.data
            if i in fps
        )
    for target, point in placed:
        node = f"{target}:{point.key}"
        if point.model_fp:
            edges.append(("model", point.model_fp, "evaluated", "metric", node))
        for i in dict.fromkeys(point.data):
            fp = fps.get(i)
            if fp is not None:
                edges.append(("dataset", fp, "evaluated", "metric", node))
    record = CellRecord(
        run_id=run_id,
        execution=execution,
        params=params,
        explicit_since=explicit_since,
        datasets=[
            (name, facts, *sources.get(name, (None, None))) for name, facts in described.items()
        ],
        metrics=[(p.key, p.value, p.step, None) for p in points] + list(pending),
        elsewhere=[(r, p.key, p.value, p.step) for r, p in elsewhere],
        models=placed_models,
        children=rows,
        child_params=child_params,
        child_metrics=child_metrics,
        origins=[
            (r, p.key, p.producer, p.split, p.model_fp, p.model_name, p.detail)
            for r, p in _latest(placed)
        ],
        edges=list(dict.fromkeys(edges)),
    )
    return record, ids


def _latest(placed: list[tuple[str, Point]]) -> list[tuple[str, Point]]:
    out: dict[tuple[str, str], Point] = {}
    for run, point in placed:
        out[(run, point.key)] = point
    return [(run, p) for (run, _k), p in out.items()]


class _Fingerprints:
    """Object id (as the cell's calls saw it) -> fingerprint of the dataset it still is."""

    def __init__(self, session: Session, datasets: dict[str, tuple[Any, str]], alive: Any) -> None:
        self.alive = alive
        self.known: dict[int, tuple[Any, str]] = {
            key: (ref, fp) for key, (ref, _token, fp) in session.fp_cache.entries.items()
        }
        for obj, fp in datasets.values():
            self.known[id(obj)] = (lambda o=obj: o, fp)

    def __contains__(self, key: int) -> bool:
        return self.get(key) is not None

    def __getitem__(self, key: int) -> str:
        fp = self.get(key)
        if fp is None:
            raise KeyError(key)
        return fp

    def get(self, key: int) -> str | None:
        entry = self.known.get(key)
        if entry is None:
            return None
        obj = entry[0]()
        return entry[1] if obj is not None and self.alive(key) is obj else None


def _edges(
    session: Session,
    datasets: dict[str, tuple[Any, str]],
    sources: dict[str, tuple[str, str | None]],
    reads: list[str],
    writes: list[str],
    run_id: str,
    ns: dict[str, Any],
    points: list[Point],
) -> list[Edge]:
    """Reads and writes of the cell, and what names it wrote were derived from."""
    written = set(writes)
    edges: list[Edge] = []
    read_fps: set[str] = set()
    for name, (_obj, fp) in datasets.items():
        if name in written:
            edges.append(("execution", EXECUTION, "wrote", "dataset", fp))
        else:
            edges.append(("dataset", fp, "read", "execution", EXECUTION))
            read_fps.add(fp)
    for path, _digest in sources.values():
        edges.append(("file", path, "read", "execution", EXECUTION))
    used_models = {
        session.model_fps[id(ns[n])] for n in reads if id(ns.get(n)) in session.model_fps
    }
    used_data = set(read_fps)
    for name in reads:
        origin = session.derived.get(name)
        if origin:
            used_data |= origin[0]
            used_models |= origin[1]
    # An assigned metric the calls did not trace (acc = 0.93): what the cell's values came from.
    for point in points:
        if point.producer != "assigned":
            continue
        node = f"{run_id}:{point.key}"
        models = used_models or ({session.last_model} if session.last_model else set())
        edges.extend(("model", m, "evaluated", "metric", node) for m in sorted(models))
        edges.extend(  # (large data's fingerprints are resolved when the edges are written)
            ("dataset", d, "evaluated", "metric", node) for d in sorted(used_data, key=str)
        )
    for name in written:
        session.derived[name] = (frozenset(used_data), frozenset(used_models))
    return edges
