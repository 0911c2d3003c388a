"""Capture one finished cell: detect its facts, then write them in ONE transaction.

Order of work: parse -> decide params (maybe start a child run) -> metrics -> datasets (hash,
profile only new content) -> models -> one ``with store.write():`` holding the execution row,
params, metrics (the cell's and the buffered ``mj.log_metric`` points), dataset versions,
models and lineage edges.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import xxhash

from . import detect
from ._warn import warn_once
from .ast_names import analyse, parse, redact
from .record import describe_dataset, describe_model, write_dataset, write_model
from .session import Session

SKIP_MARKER = "# mlops: skip"
_OWN_MAGICS = ("%mlops", "%load_ext", "%reload_ext", "%unload_ext", "%lsmagic")


@dataclass
class CellStart:
    """Stamped by ``pre_run_cell``."""

    raw_cell: str
    cell_id: str | None
    started_at: str
    t0: float


@dataclass
class Captured:
    """What the last cell captured (shown by ``%mlops``)."""

    execution_id: int | None
    run_id: str
    status: str
    params: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    new_run: bool = False


def should_skip(raw_cell: str) -> bool:
    """A cell marked ``# mlops: skip`` on its first line, or one that only runs our magics."""
    stripped = raw_cell.lstrip()
    if stripped.startswith(SKIP_MARKER):
        return True
    lines = [ln.strip() for ln in stripped.splitlines() if ln.strip()]
    return bool(lines) and all(ln.startswith(_OWN_MAGICS) for ln in lines)


def capture_cell(session: Session, shell: Any, start: CellStart, result: Any) -> Captured:
    raw = start.raw_cell
    ns = shell.user_ns
    error = result.error_in_exec or result.error_before_exec
    duration = time.perf_counter() - start.t0
    transform = getattr(getattr(shell, "input_transformer_manager", None), "transform_cell", None)
    tree = parse(raw, transform)
    syntax = analyse(tree) if tree is not None else None
    ok = error is None and syntax is not None

    # Params first: a changed value may start a child run that the whole cell belongs to.
    params = detect.params_of(syntax) if ok and syntax else {}
    new_run = False
    changed = [k for k, v in params.items() if k in session.params and session.params[k][0] != v]
    if changed and session.run_id is not None and session.has_results:
        session.start_child_run()
        new_run = True
    if session.run_id is None:
        new_run = True
    run_id = session.ensure_run()
    store = session.store

    reads = detect.user_names(syntax.reads, ns) if syntax else []
    writes = detect.user_names(syntax.writes, ns) if syntax else []
    metrics: dict[str, float] = {}
    datasets: dict[str, tuple[Any, str]] = {}
    described: dict[str, Any] = {}
    models: dict[str, tuple[Any, list[str]]] = {}
    model_facts: dict[str, Any] = {}
    est_params: dict[str, Any] = {}
    if ok and syntax is not None:
        metrics = detect.metrics_of(syntax, ns)
        fresh = syntax.writes | syntax.mutated
        datasets = detect.datasets_of(sorted(set(reads) | set(writes)), ns, session.fp_cache, fresh)
        seen: dict[str, Any] = {}
        for name, (obj, fp) in list(datasets.items()):
            try:
                if fp not in seen:
                    seen[fp] = describe_dataset(obj, fp, store=store)
                described[name] = seen[fp]
            except Exception as exc:  # skip this dataset, keep the rest of the cell
                warn_once("profile the dataset", exc, repr(name))
                del datasets[name]
        models = detect.models_of(syntax, ns)
        for name, (est, _data) in list(models.items()):
            try:
                model_facts[name] = describe_model(est)
            except Exception as exc:
                warn_once("record the model", exc, repr(name))
                del models[name]
                continue
            for key, value in model_facts[name].params.items():
                if key not in params and session.params.get(key, (None, "estimator"))[1] in {
                    "estimator",
                    "inherited",
                }:
                    est_params[key] = value

    code = redact(raw)
    sources = (
        {n: detect.source_file(path) for n, (_r, path) in syntax.file_reads.items()}
        if ok and syntax is not None
        else {}
    )
    pending = session.take_metrics()
    try:
        with store.write():  # the cell's single transaction
            execution_id = store.add_execution(
                run_id,
                code=code,
                code_hash=xxhash.xxh3_128_hexdigest(code.encode()),
                started_at=start.started_at,
                duration_s=duration,
                status="ok" if error is None else "error",
                execution_count=result.execution_count,
                cell_id=start.cell_id,
                error=_summary(error),
                reads=reads,
                writes=writes,
            )
            # A param re-assigned to the value the run already holds is not written again.
            to_write = {
                k: v
                for k, v in params.items()
                if session.params.get(k) != (v, "auto") or type(session.params[k][0]) is not type(v)
            }
            if to_write:
                store.log_params(run_id, to_write, execution_id=execution_id, source="auto")
            if est_params:
                store.log_params(run_id, est_params, execution_id=execution_id, source="estimator")
            points = [(k, v, None, None) for k, v in metrics.items()] + pending
            store.log_metrics(run_id, points, execution_id=execution_id)
            if session.explicit_params:
                session.explicit_params = False
                store.attach_explicit_params(run_id, execution_id, start.started_at)
            for name, facts in described.items():
                path, digest = sources.get(name, (None, None))
                write_dataset(
                    store,
                    name,
                    facts,
                    run_id=run_id,
                    execution_id=execution_id,
                    source_path=path,
                    source_hash=digest,
                )
            model_fps = {
                name: write_model(store, f, name=name, run_id=run_id, execution_id=execution_id)
                for name, f in model_facts.items()
            }
            edges = _edges(
                session,
                datasets=datasets,
                models=models,
                model_fps=model_fps,
                metrics=metrics,
                sources=sources,
                reads=reads,
                writes=writes,
                run_id=run_id,
                execution_id=execution_id,
                ns=ns,
            )
            store.add_edges(edges, run_id=run_id, execution_id=execution_id)
    except BaseException:
        session.pending_metrics[:0] = pending  # explicit metrics are never lost
        raise

    # Only now (committed) update what the session believes the run holds.
    for key, value in params.items():
        session.params[key] = (value, "auto")
    for key, value in est_params.items():
        session.params[key] = (value, "estimator")
    if metrics or pending or model_fps:
        session.has_results = True
    for name, fp in model_fps.items():
        session.model_fps[id(models[name][0])] = fp
        session.last_model = fp
    return Captured(
        execution_id,
        run_id,
        "ok" if error is None else "error",
        params=sorted(params),
        metrics=sorted(set(metrics) | {p[0] for p in pending}),
        datasets=sorted(datasets),
        models=sorted(model_fps),
        new_run=new_run,
    )


def _edges(
    session: Session,
    *,
    datasets: dict[str, tuple[Any, str]],
    models: dict[str, tuple[Any, list[str]]],
    model_fps: dict[str, str],
    metrics: dict[str, float],
    sources: dict[str, tuple[str, str | None]],
    reads: list[str],
    writes: list[str],
    run_id: str,
    execution_id: int,
    ns: dict[str, Any],
) -> list[tuple[str, str, str, str, str]]:
    ex = str(execution_id)
    written = set(writes)
    edges: list[tuple[str, str, str, str, str]] = []
    read_fps: set[str] = set()
    for name, (_obj, fp) in datasets.items():
        if name in written:
            edges.append(("execution", ex, "wrote", "dataset", fp))
        else:
            edges.append(("dataset", fp, "read", "execution", ex))
            read_fps.add(fp)
    for path, _digest in sources.values():
        edges.append(("file", path, "read", "execution", ex))
    for name, (_est, data_names) in models.items():
        fp = model_fps[name]
        edges.append(("execution", ex, "wrote", "model", fp))
        for data_name in data_names:
            if data_name in datasets:
                edges.append(("dataset", datasets[data_name][1], "trained_on", "model", fp))
    # What the cell's values came from (one level of ``y_pred = model.predict(X_test)``).
    used_models = {
        session.model_fps[id(ns[n])] for n in reads if id(ns.get(n)) in session.model_fps
    }
    used_data = set(read_fps)
    for name in reads:
        origin = session.derived.get(name)
        if origin:
            used_data |= origin[0]
            used_models |= origin[1]
    if metrics:
        if not used_models and session.last_model and not model_fps:
            used_models = {session.last_model}
        used_models |= set(model_fps.values())
        for key in metrics:
            node = f"{run_id}:{key}"
            edges.extend(("model", m, "evaluated", "metric", node) for m in sorted(used_models))
            edges.extend(("dataset", d, "evaluated", "metric", node) for d in sorted(used_data))
    for name in written:
        session.derived[name] = (frozenset(used_data), frozenset(used_models))
    return edges


def _summary(error: BaseException | None) -> str | None:
    if error is None:
        return None
    text = (
        f"{type(error).__name__}: {error}".splitlines()[0] if str(error) else type(error).__name__
    )
    return text[:300]
