"""Capture one finished cell: decide its facts, then write them in ONE transaction.

Order of work: parse -> plan the recorded calls (configurations, sweeps, metric keys:
:mod:`.assemble`) -> params (maybe start a child run: the whole cell then belongs to it) ->
metrics -> datasets (hash, profile only new content) -> models (row now, file later) ->
one ``with store.write():`` holding the execution row, params, metrics (the cell's and the
buffered ``mj.log_metric`` points), dataset versions, models, sweep and search child runs and
lineage edges. Model files are queued for the background writer only once that commits.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass, field
from typing import Any

import xxhash

from . import artifacts, detect, flusher, quality
from ._warn import warn_once
from .assemble import ModelRecord, Plan, Point, model_record, plan_cell
from .ast_names import CellSyntax, analyse, is_secret, parse, redact
from .links import ModelInfo
from .record import describe_dataset
from .secrets import redact_text, redact_value
from .session import Session
from .write import prepare

SKIP_MARKER = "# mlops: skip"
_OWN_MAGICS = ("%mlops", "%load_ext", "%reload_ext", "%unload_ext", "%lsmagic")


@dataclass
class CellStart:
    """Stamped by ``pre_run_cell``."""

    raw_cell: str
    cell_id: str | None
    started_at: str
    t0: float
    recorder: Any = None  # events.Recorder of the calls the cell made
    usage: Any = None  # resources.Usage of the cell (#16)


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
    child_runs: int = 0


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

    plan = Plan()
    if ok and start.recorder is not None and start.recorder.events:
        try:
            plan = plan_cell(start.recorder, session.links, ns)
        except Exception as exc:  # the cell's own record (code, datasets) is still worth keeping
            warn_once("read the calls of the cell", exc)
    # Params first: a changed value may start a child run that the whole cell belongs to.
    params: dict[str, tuple[Any, str]] = {}
    if ok and syntax is not None:
        params = {k: (v, "auto") for k, v in detect.params_of(syntax).items()}
        params.update(_no_secrets(plan.params))
    new_run = False
    changed = [
        k for k, (v, _s) in params.items() if k in session.params and session.params[k][0] != v
    ]
    if changed and session.run_id is not None and session.has_results:
        session.start_child_run()
        new_run = True
    if session.run_id is None:
        new_run = True
    run_id = session.ensure_run()
    store = session.store_nowait

    reads = detect.user_names(syntax.reads, ns) if syntax else []
    writes = detect.user_names(syntax.writes, ns) if syntax else []
    points: list[Point] = []
    datasets: dict[str, tuple[Any, str]] = {}
    described: dict[str, Any] = {}
    fallback: list[ModelRecord] = []
    if ok and syntax is not None:
        points = _named_metrics(syntax, ns, plan)
        datasets, described = _datasets(session, syntax, ns, plan, _alive(start))
        fallback = _unrecorded_models(syntax, ns, session, plan)
    points = plan.points + points
    for run, point in plan.elsewhere:
        if run == run_id:
            points.append(point)
    elsewhere = [(r, p) for r, p in plan.elsewhere if r != run_id]
    owners = dict(session.key_owners.get(run_id, {}))
    _own_keys(points, owners)

    code = redact(raw)
    sources = _sources(syntax, ns) if ok and syntax is not None else {}
    pending = session.take_metrics()
    models = plan.models + fallback
    explicit_since = start.started_at if session.explicit_params else None
    try:
        record, child_ids = prepare(
            session,
            run_id=run_id,
            execution={
                "code": code,
                "code_hash": xxhash.xxh3_128_hexdigest(code.encode()),
                "started_at": start.started_at,
                "duration_s": duration,
                "status": "ok" if error is None else "error",
                "execution_count": result.execution_count,
                "cell_id": start.cell_id,
                "error": _summary(error),
                "reads": reads,
                "writes": writes,
            },
            params=_params_to_write(session, params),
            explicit_since=explicit_since,
            datasets=datasets,
            described=described,
            sources=sources,
            points=points,
            pending=pending,
            elsewhere=elsewhere,
            models=models,
            children=plan.children,
            inherit={k: v for k, (v, _s) in {**session.params, **params}.items()},
            alive=_alive(start),
            reads=reads,
            writes=writes,
            ns=ns,
        )
    except BaseException:
        session.restore_metrics(pending)  # explicit metrics are never lost
        raise
    session.explicit_params = False
    try:  # resources, tags and data tests of the cell (#16): noted now, done after its write
        after = quality.prepare(session, shell, start, run_id, datasets, described, sources)
    except Exception as exc:
        warn_once("note the cell's resources and data tests", exc)
        after = None
    captured = Captured(
        None,
        run_id,
        "ok" if error is None else "error",
        params=sorted(params),
        metrics=sorted({p.key for p in points} | {p[0] for p in pending}),
        datasets=sorted(datasets),
        models=sorted({m.name for m in models}),
        new_run=new_run,
        child_runs=len(plan.children),
    )

    def write(store: Any) -> None:  # on the store's writer thread: the cell does not wait
        captured.execution_id = record.apply(store)
        flusher.adopt(session, store, run_id, captured.execution_id, start.started_at)
        if after is not None:
            after.write(store, captured.execution_id)
        for _run, model in record.models:
            if model.est is not None and not model.file_queued:
                artifacts.submit(store.key, model.fingerprint, model.est)

    def failed(exc: BaseException) -> None:  # on the writer thread: report on the cell's
        session.restore_metrics(pending)  # explicit metrics are never lost
        session.write_failures.append(exc)
        session.contents.clear()  # not sure any more what reached the store

    store.write_later(write, failed)
    if after is not None:
        try:
            after.submit()
        except Exception as exc:
            warn_once("queue the cell's data tests", exc)
    # What the session believes the run holds (the write is queued, in order, behind others).
    for key, (value, source) in params.items():
        session.params[key] = (value, source)
    session.key_owners[run_id] = owners
    if points or pending or models or plan.children:
        session.has_results = True
    _remember(session, run_id, models, plan, child_ids, datasets)
    return captured


def _params_to_write(
    session: Session, params: dict[str, tuple[Any, str]]
) -> dict[str, dict[str, Any]]:
    """A param re-assigned to the value (and source) the run already holds is not written again."""
    by_source: dict[str, dict[str, Any]] = {}
    for key, (value, source) in params.items():
        held = session.params.get(key)
        if held is not None and held[1] in ("explicit",) and source != "explicit":
            continue  # mj.log_param wins over what capture guessed
        if held == (value, source) and type(held[0]) is type(value):
            continue
        by_source.setdefault(source, {})[key] = value
    return by_source


def _named_metrics(syntax: CellSyntax, ns: dict[str, Any], plan: Plan) -> list[Point]:
    """Metric-named values the cell assigned that no recorded call produced (``acc = 0.93``,
    ``error = n_wrong / n``)."""
    taken = {p.key for p in plan.points} | {p.key for c in plan.children for p in c.points}
    taken |= {p.key for _r, p in plan.elsewhere}
    return [
        Point(key, value, None, "assigned", named=True)
        for key, value in detect.metrics_of(syntax, ns).items()
        if key not in taken
    ]


def _own_keys(points: list[Point], owners: dict[str, str]) -> None:
    """A key the run holds for another model gets that model's name in front."""
    for point in points:
        if not point.model_name or point.named:
            continue
        owner = owners.get(point.key)
        if owner is None:
            owners[point.key] = point.model_name
        elif owner != point.model_name:
            point.key = f"{point.model_name}.{point.key}"


def _alive(start: CellStart) -> Any:
    """``id -> object`` for the objects the cell's calls saw, only while they still exist (an
    id alone may since belong to another object: a temporary's id is reused at once)."""
    rec = start.recorder
    return rec.alive if rec is not None else (lambda _key: None)


def _datasets(
    session: Session, syntax: CellSyntax, ns: dict[str, Any], plan: Plan, alive: Any
) -> tuple[dict[str, tuple[Any, str]], dict[str, Any]]:
    names = detect.dataset_candidates(
        syntax,
        ns,
        is_cell_data=lambda obj: id(obj) in plan.data_ids and alive(id(obj)) is obj,
        is_known_data=session.links.is_data,
        recorded=session.datasets,
        columns=session.dataset_columns,
    )
    fresh = syntax.writes | syntax.mutated
    datasets = detect.datasets_of(names, ns, session.fp_cache, fresh)
    described: dict[str, Any] = {}
    seen: dict[str, Any] = {}
    for name, (obj, fp) in list(datasets.items()):
        try:
            if fp not in seen:
                seen[fp] = describe_dataset(
                    obj, fp, store=session.store_nowait, later=True, known=session.contents
                )
            described[name] = seen[fp]
        except Exception as exc:  # skip this dataset, keep the rest of the cell
            warn_once("profile the dataset", exc, repr(name))
            del datasets[name]
    return datasets, described


def _unrecorded_models(
    syntax: CellSyntax, ns: dict[str, Any], session: Session, plan: Plan
) -> list[ModelRecord]:
    """Fitted estimators the cell fitted or bound without a recorded call (a class defined in
    the notebook, a model fitted before ``%load_ext``), found by name."""
    recorded = {id(m.est) for m in plan.models if m.est is not None} | {
        id(m.est) for c in plan.children for m in c.models if m.est is not None
    }
    out = []
    for name, (est, _data) in detect.models_of(syntax, ns).items():
        if id(est) in recorded or session.links.model_of(est) is not None:
            continue
        try:
            out.append(model_record(est, name))
        except Exception as exc:
            warn_once("record the model", exc, repr(name))
    return out


def _sources(syntax: CellSyntax, ns: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    out = {n: detect.source_file(path) for n, (_r, path) in syntax.file_reads.items()}
    for name, var in syntax.file_read_vars.items():
        path = ns.get(var) if var else None
        if isinstance(path, str) or hasattr(path, "__fspath__"):
            out[name] = detect.source_file(str(path))
    return out


def _remember(
    session: Session,
    run_id: str,
    models: list[ModelRecord],
    plan: Plan,
    child_ids: list[str],
    datasets: dict[str, tuple[Any, str]],
) -> None:
    placed = [(run_id, m, False) for m in models]
    for child, child_id in zip(plan.children, child_ids):
        placed.extend((child_id, m, True) for m in child.models)
    for target, model, sweep in placed:
        session.last_model = model.fingerprint
        if model.est is None:
            continue
        info = ModelInfo(model.fingerprint, model.name, target, sweep)
        session.links.note_model(model.est, info)
        session.model_fps[id(model.est)] = model.fingerprint
    for name, (obj, fp) in datasets.items():
        if isinstance(fp, str):
            session.contents.add(fp)
        try:
            session.datasets[name] = weakref.ref(obj)
        except TypeError:
            continue
        cols = getattr(obj, "columns", None)
        names = [str(c) for c in list(cols)[:1000]] if cols is not None else []
        if getattr(obj, "name", None) is not None:
            names.append(str(obj.name))
        session.dataset_columns[name] = frozenset(names)


def _no_secrets(params: dict[str, tuple[Any, str]]) -> dict[str, tuple[Any, str]]:
    """Estimator and call params without secret names (``api_key=``), values masked."""
    return {k: (redact_value(v), s) for k, (v, s) in params.items() if not is_secret(k)}


def _summary(error: BaseException | None) -> str | None:
    if error is None:
        return None
    text = (
        f"{type(error).__name__}: {error}".splitlines()[0] if str(error) else type(error).__name__
    )
    return redact_text(text)[:300]
