"""Write a planned cell's metrics, models, child runs and lineage (inside the cell's transaction).

Called by :mod:`.cell` within its ``with store.write():``; every statement here is a bulk
``executemany`` so a search with thousands of candidates stays one short transaction.
"""

from __future__ import annotations

from typing import Any

from .assemble import Child, ModelRecord, Point
from .session import Session

Edge = tuple[str, str, str, str, str]


def write_facts(
    store: Any,
    session: Session,
    *,
    run_id: str,
    execution_id: int,
    points: list[Point],
    pending: list[tuple[str, float, int | None, str]],
    elsewhere: list[tuple[str, Point]],
    models: list[ModelRecord],
    children: list[Child],
    inherit: dict[str, Any],
    datasets: dict[str, tuple[Any, str]],
    alive: Any,
    sources: dict[str, tuple[str, str | None]],
    reads: list[str],
    writes: list[str],
    ns: dict[str, Any],
) -> list[str]:
    """Everything but the execution row, params and dataset versions; returns child run ids."""
    fps = _fingerprints(session, datasets, alive)
    store.log_metrics(
        run_id,
        [(p.key, p.value, p.step, None) for p in points] + pending,
        execution_id=execution_id,
    )
    placed = [(run_id, p) for p in points] + list(elsewhere)
    if elsewhere:
        store.log_metrics_many(
            [(r, p.key, p.value, p.step) for r, p in elsewhere], execution_id=execution_id
        )
    for model in models:
        _record_model(store, model, run_id, execution_id)
    child_ids = _children(store, session, children, inherit, run_id, execution_id)
    for child, child_id in zip(children, child_ids):
        placed.extend((child_id, p) for p in child.points)
        for model in child.models:
            _record_model(store, model, child_id, execution_id)
    store.record_metric_origins(
        [
            (r, p.key, p.producer, p.split, p.model_fp, p.model_name, p.detail)
            for r, p in _latest(placed)
        ],
        execution_id=execution_id,
    )
    edges = _edges(session, datasets, sources, reads, writes, run_id, execution_id, ns, points)
    ex = str(execution_id)
    for model in models + [m for c in children for m in c.models]:
        edges.append(("execution", ex, "wrote", "model", model.fingerprint))
        edges.extend(
            ("dataset", fps[i], "trained_on", "model", model.fingerprint)
            for i in model.data
            if i in fps
        )
    for target, point in placed:
        node = f"{target}:{point.key}"
        if point.model_fp:
            edges.append(("model", point.model_fp, "evaluated", "metric", node))
        edges.extend(
            ("dataset", fps[i], "evaluated", "metric", node)
            for i in dict.fromkeys(point.data)
            if i in fps
        )
    store.add_edges(_unique(edges), run_id=run_id, execution_id=execution_id)
    return child_ids


def _record_model(store: Any, model: ModelRecord, run_id: str, execution_id: int) -> None:
    store.record_model(
        model.fingerprint,
        class_name=model.class_name,
        params=model.params,
        name=model.name,
        run_id=run_id,
        execution_id=execution_id,
    )


def _children(
    store: Any,
    session: Session,
    children: list[Child],
    inherited: dict[str, Any],
    run_id: str,
    execution_id: int,
) -> list[str]:
    """Create the child runs (in batches per parent), their params and metric points."""
    if not children:
        return []
    ids: list[str] = []
    parent_name = session.run_name or "run"
    i = 0
    while i < len(children):
        parent = children[i].parent
        j = i
        while j < len(children) and children[j].parent == parent:
            j += 1
        parent_id = run_id if parent is None else ids[parent]
        names = [f"{parent_name} · {c.label}" for c in children[i:j]]
        ids.extend(store.create_child_runs(parent_id, names))
        i = j
    param_rows: list[tuple[str, str, Any, str]] = []
    metric_rows: list[tuple[str, str, float | None, int | None]] = []
    for child, child_id in zip(children, ids):
        own = child.params
        if child.inherit:
            param_rows.extend(
                (child_id, k, v, "inherited") for k, v in inherited.items() if k not in own
            )
        param_rows.extend((child_id, k, v, src) for k, (v, src) in own.items())
        metric_rows.extend((child_id, p.key, p.value, p.step) for p in child.points)
    store.log_params_many(param_rows, execution_id=execution_id)
    store.log_metrics_many(metric_rows, execution_id=execution_id)
    return ids


def _latest(placed: list[tuple[str, Point]]) -> list[tuple[str, Point]]:
    out: dict[tuple[str, str], Point] = {}
    for run, point in placed:
        out[(run, point.key)] = point
    return [(run, p) for (run, _k), p in out.items()]


def _unique(edges: list[Edge]) -> list[Edge]:
    return list(dict.fromkeys(edges))


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


def _fingerprints(
    session: Session, datasets: dict[str, tuple[Any, str]], alive: Any
) -> _Fingerprints:
    return _Fingerprints(session, datasets, alive)


def _edges(
    session: Session,
    datasets: dict[str, tuple[Any, str]],
    sources: dict[str, tuple[str, str | None]],
    reads: list[str],
    writes: list[str],
    run_id: str,
    execution_id: int,
    ns: dict[str, Any],
    points: list[Point],
) -> list[Edge]:
    """Reads and writes of the cell, and what names it wrote were derived from."""
    ex = str(execution_id)
    written = set(writes)
    edges: list[Edge] = []
    read_fps: set[str] = set()
    for name, (_obj, fp) in datasets.items():
        if name in written:
            edges.append(("execution", ex, "wrote", "dataset", fp))
        else:
            edges.append(("dataset", fp, "read", "execution", ex))
            read_fps.add(fp)
    for path, _digest in sources.values():
        edges.append(("file", path, "read", "execution", ex))
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
        edges.extend(("dataset", d, "evaluated", "metric", node) for d in sorted(used_data))
    for name in written:
        session.derived[name] = (frozenset(used_data), frozenset(used_models))
    return edges
