"""What each route returns: JSON-ready views over the store's own methods (no SQL here).

Registry and drift tables come from other areas' store mixins; their readers are looked up by
name so the sidebar still works on a store written before those areas existed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from ..store import Store
from ..store import cells as cell_reads

MAX_COMPARE = 12

# lineage node type -> column of the graph (datasets -> cells -> models -> registry versions)
COLUMNS = {
    "file": 0,
    "dataset": 0,
    "execution": 1,
    "model": 2,
    "model_version": 3,
    "drift_report": 3,
    "metric": 3,
}


def jsonable(value: Any) -> Any:
    """Plain JSON: non-finite floats become ``None`` (browsers reject ``NaN``)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return jsonable(item())
    return str(value)


def status(store: Store | None, path: Path | str) -> dict[str, Any]:
    """Where the store is and a marker that changes whenever any process writes to it."""
    from ..store.schema import expected_version

    if isinstance(path, str):  # a team store: the marker is read from the database
        from ..store.pg import masked_url

        return {
            "store": masked_url(path),
            "exists": store is not None,
            "schema_version": store.schema_version if store is not None else None,
            "upgrade_pending": store is not None and store.schema_version < expected_version(),
            "marker": store.change_marker() if store is not None else "-",
        }
    return {
        "store": str(path),
        "exists": store is not None,
        "schema_version": store.schema_version if store is not None else None,
        # read as it is: the API never upgrades a store written by an older mlops-jupyter
        "upgrade_pending": store is not None and store.schema_version < expected_version(),
        "marker": change_marker(path),
    }


def change_marker(path: Path) -> str:
    """Size and mtime of the database and its WAL: every commit appends to the WAL."""
    parts = []
    for p in (path, path.with_name(path.name + "-wal")):
        try:
            st = p.stat()
        except OSError:
            parts.append("-")
            continue
        parts.append(f"{st.st_mtime_ns}:{st.st_size}")
    return "/".join(parts)


# -- experiments and runs ----------------------------------------------------------------


def experiments(store: Store) -> list[dict[str, Any]]:
    return store.list_experiments()


def runs(store: Store, experiment: str | None) -> list[dict[str, Any]]:
    """Runs (newest first) with their params, the latest value of each metric and what they
    cost (``resources``: cells, wall_s, cpu_s, peak_rss_mb, ...; ``cost`` when priced)."""
    from ..analysis.resources import cost_per_hour, estimate

    rows = store.list_runs(experiment or None)
    used = _call(store, "run_resources", [r["id"] for r in rows]) or {}
    rate = cost_per_hour()
    for row in rows:
        row["params"] = store.get_params(row["id"])
        row["metrics"] = store.latest_metrics(row["id"])
        found = used.get(row["id"])
        row["resources"] = (
            None if found is None else {**found, "cost": estimate(found.get("wall_s"), rate)}
        )
    rows.reverse()
    return rows


def run_detail(store: Store, run_id: str) -> dict[str, Any]:
    run = store.get_run(run_id)
    rid = run["id"]
    return {
        "run": run,
        "params": store.list_params(rid),
        "metrics": store.latest_metrics(rid),
        "metric_history": store.metric_history(rid),
        "executions": cell_reads.executions_of_run(store, rid),
        "datasets": store.datasets_of_run(rid),
        "models": store.list_models(rid),
        "lineage": run_lineage(store, rid),
    }


# -- lineage graphs --------------------------------------------------------------------------


def run_lineage(store: Store, run_id: str) -> dict[str, Any]:
    """The run's graph: datasets -> cells -> models -> registry versions."""
    rid = store.get_run(run_id)["id"]
    return _graph(store, store.edges(run_id=rid), run_ids=[rid])


def execution_lineage(store: Store, execution_id: str) -> dict[str, Any]:
    """One cell's neighbourhood: what it read, what it wrote, what it trained."""
    try:
        eid = int(execution_id)
        if not 0 <= eid < 2**63:  # SQLite's integers: a larger one cannot be an id
            raise ValueError(execution_id)
    except ValueError:
        raise InvalidInput(
            f"{execution_id!r} is not an execution id. Execution ids are integers "
            "(see /mlops-jupyter/executions)."
        ) from None
    execution = store.get_execution(eid)
    if execution is None:
        raise _not_found("execution", execution_id)
    edges = store.edges(node=("execution", str(eid)))
    # follow models one step further, to their registry versions
    for e in list(edges):
        if e["dst_type"] == "model":
            edges += [x for x in store.edges(node=("model", e["dst_id"])) if x not in edges]
    return _graph(store, edges, run_ids=[execution["run_id"]])


def _graph(store: Store, edges: Sequence[dict[str, Any]], run_ids: Sequence[str]) -> dict[str, Any]:
    labels = _labels(store, run_ids)
    nodes: dict[str, dict[str, Any]] = {}
    links = []
    for e in edges:
        ends = [(e["src_type"], e["src_id"]), (e["dst_type"], e["dst_id"])]
        if any(t not in COLUMNS for t, _ in ends):
            continue  # runs are the graph's scope, not nodes
        keys = [f"{t}:{i}" for t, i in ends]
        for (t, i), key in zip(ends, keys):
            if key not in nodes:
                label = labels.get(key) or _short(t, i)
                nodes[key] = {
                    "id": key,
                    "type": t,
                    "ref": i,
                    "column": COLUMNS[t],
                    "label": label,
                    "title": labels.get(f"title:{key}") or f"{t} {i}\n{label}",
                }
        link = {"source": keys[0], "target": keys[1], "relation": e["relation"]}
        if link not in links:
            links.append(link)
    models = {n["ref"] for n in nodes.values() if n["type"] == "model"}
    for v in _registry_versions_of(store, models) if models else []:
        ref = f"{v['name']}@{v['version']}"
        key = f"model_version:{ref}"
        label = f"{v['name']} v{v['version']}"
        nodes.setdefault(
            key,
            {
                "id": key,
                "type": "model_version",
                "ref": ref,
                "column": 3,
                "label": label,
                "title": f"registered model {label}",
            },
        )
        link = {
            "source": f"model:{v['model_fingerprint']}",
            "target": key,
            "relation": "registered",
        }
        if link not in links:
            links.append(link)
    return {
        "nodes": sorted(nodes.values(), key=lambda n: (n["column"], n["label"])),
        "edges": links,
    }


def _labels(store: Store, run_ids: Iterable[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for rid in run_ids:
        for key, value in store.latest_metrics(rid).items():
            shown = "" if value is None else f" = {value:.4g}"
            labels[f"metric:{rid}:{key}"] = f"{key}{shown}"
        for d in store.datasets_of_run(rid):
            labels.setdefault(f"dataset:{d['fingerprint']}", f"{d['name']} v{d['version']}")
        for x in store.list_executions(rid):
            first = next((ln for ln in x["code"].splitlines() if ln.strip()), "")
            labels[f"execution:{x['id']}"] = f"[{x['execution_count'] or '·'}] {first[:60]}"
            labels[f"title:execution:{x['id']}"] = x["code"][:400]
        for m in store.list_models(rid):
            name = f"{m['name']}: " if m.get("name") else ""
            labels[f"model:{m['fingerprint']}"] = f"{name}{m['class_name'].rsplit('.', 1)[-1]}"
            labels[f"title:model:{m['fingerprint']}"] = (
                f"{name}{m['class_name']}\nfingerprint {m['fingerprint']}"
            )
    return labels


def _short(node_type: str, node_id: str) -> str:
    if node_type in ("dataset", "model") and len(node_id) > 10:
        return f"{node_type} {node_id[:8]}"
    if node_type == "file":
        return Path(node_id).name
    return str(node_id)


def _not_found(kind: str, ref: str) -> Exception:
    from ..errors import NotFound

    return NotFound(f"No {kind} with id {ref!r}. List them under /mlops-jupyter/.")


# -- cells ---------------------------------------------------------------------------------


def executions(store: Store, notebook: str | None, cell_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Latest execution per cell with what it captured, for the notebook badges."""
    if cell_ids:
        return cell_reads.latest_executions_of_cells(store, cell_ids)
    if notebook:
        return cell_reads.latest_executions_of_notebook(store, notebook)
    raise InvalidInput(
        "Say which cells: pass ?cell_id=ID (repeatable) or ?notebook=PATH. "
        "Cell ids are the notebook's own cell ids."
    )


# -- datasets, models, drift -----------------------------------------------------------------


def datasets(store: Store, tag: str | None = None) -> list[dict[str, Any]]:
    """One entry per dataset name with its versions (oldest first) and their tags; with
    ``tag`` (``pii=true``, ``owner=risk,type=tabular``) only the versions carrying them."""
    from ..analysis.tags import matches, merged, parse_filters

    filters = parse_filters(tag)
    all_tags = _call(store, "all_dataset_tags") or {}
    by_name: dict[str, dict[str, Any]] = {}
    for v in store.list_datasets():
        v["tags"] = merged(all_tags, v["name"], v["version"])
        if not matches(v["tags"], filters):
            continue
        entry = by_name.setdefault(v["name"], {"name": v["name"], "versions": []})
        entry["versions"].append(v)
    return list(by_name.values())


def models(store: Store) -> dict[str, Any]:
    """Registered models (versions, aliases, audit trail) and every captured model."""
    return {
        "registered": _registered_models(store),
        "captured": store.list_models(),
    }


def _registered_models(store: Store) -> list[dict[str, Any]]:
    """Each registered model with its versions, current aliases, alias history and audit."""
    if _method(store, "list_registered_models") is None:
        return []
    out = []
    for m in store.list_registered_models():
        name = m["name"]
        out.append(
            {
                **m,
                "versions": _call(store, "list_model_versions", name) or [],
                "aliases": _call(store, "get_aliases", name) or {},
                "alias_history": _call(store, "alias_history", name) or [],
                "audit": _call(store, "list_audit_records", name) or [],
            }
        )
    return out


def _registry_versions_of(store: Store, fingerprints: set[str]) -> list[dict[str, Any]]:
    """Registry versions holding one of these model fingerprints (``[]`` without a registry)."""
    return [
        v
        for m in _registered_models(store)
        for v in m["versions"]
        if v.get("model_fingerprint") in fingerprints
    ]


def dataset(store: Store, name: str) -> dict[str, Any]:
    """One dataset: its versions, the latest version's profile, and both as static HTML."""
    from ..display.store_views import dataset_html

    versions = store.list_datasets(name)  # DatasetNotFound names the fix
    latest = store.resolve_dataset(f"{name}@latest")
    return {"name": name, "versions": versions, "html": dataset_html(name, versions, latest)}


def drift_report(store: Store, report_id: str) -> dict[str, Any]:
    """One saved drift report with its columns, and as static HTML."""
    from ..display.store_views import saved_drift_html

    report = store.get_drift_report(report_id)
    columns = store.drift_report_columns(report["id"])
    return {"report": report, "columns": columns, "html": saved_drift_html(report, columns)}


def drift(store: Store, model: str | None) -> list[dict[str, Any]]:
    """Saved drift reports, oldest first (only those monitoring ``model`` when given)."""
    return _call(store, "list_drift_reports", model) or []


def monitor(store: Store, name: str) -> dict[str, Any]:
    """A model's monitored batches, proposals and alias moves (#17), and the static panel."""
    from ..monitoring import monitor_history

    view = monitor_history(name, store=store)
    return {**view.to_dict(), "html": view.to_html()}


def _method(store: Store, name: str) -> Callable[..., Any] | None:
    fn = getattr(store, name, None)
    return fn if callable(fn) else None


def _call(store: Store, name: str, *args: Any) -> Any:
    fn = _method(store, name)
    return None if fn is None else fn(*args)


# -- comparison ----------------------------------------------------------------------------


def compare(store: Store, run_refs: Sequence[str]) -> dict[str, Any]:
    """The comparison panel's static HTML for two or more runs."""
    refs = [r.strip() for r in run_refs if r.strip()]
    if not 2 <= len(refs) <= MAX_COMPARE:
        raise InvalidInput(
            f"Compare needs 2 to {MAX_COMPARE} runs, got {len(refs)}. "
            "Pass ?runs=ID1,ID2 with run ids from /mlops-jupyter/runs."
        )
    ids = [store.get_run(r)["id"] for r in refs]
    from ..analysis.compare import compare as compare_runs

    result = compare_runs(ids, store=store)
    return {"runs": ids, "html": result.to_html()}
