"""Why two runs differ: params, metric deltas, cells, datasets and packages of a baseline and a
challenger.

``diff_runs(store, a, b)`` reads both runs' params, the executions that logged each metric's
latest value, their cells, datasets and environments, and returns a frozen :class:`RunDiff`.
"a" is the baseline and "b" the challenger: :func:`order_pair` puts a parent before its child,
else the older run first. When one run is the other's child, the child inherited the parent's
state: cells and datasets the child did not touch again are not differences.

Cells are paired by cell id when both runs ran the same notebook cell, else by content (same
assigned names, or lines that nearly match), so ``n_estimators = 100`` meets the cell that set
``n_estimators = 50`` rather than whatever cell happens to sit at the same position.
"""

from __future__ import annotations

import difflib
import reprlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..errors import InvalidInput

PAIR_THRESHOLD = 0.5  # cells less alike than this are "only in a" / "only in b", never paired


@dataclass(frozen=True, eq=False)
class RunDiff:
    """Why two runs differ. Each frame holds only what differs (metrics: every metric).

    - ``params``: ``param, a, b``
    - ``metrics``: ``metric, a, b, delta, a_step, b_step, a_execution_id, a_cell,
      b_execution_id, b_cell`` (the cell execution that logged each latest value)
    - ``cells``: ``cell, change, a_execution_id, b_execution_id, a_cell, b_cell, diff``
      (``change`` is ``changed``, ``only in a`` or ``only in b``; ``diff`` a unified line diff)
    - ``datasets``: ``dataset, change, a_versions, b_versions, a_fingerprints, b_fingerprints``
      (``change`` is ``changed`` when the fingerprints differ, else ``only in a``/``only in b``)
    - ``packages``: ``package, a, b`` (python and platform included)
    - ``producers``: ``execution_id, run, cell, code`` of the cell executions that logged the
      metrics' latest values (``run`` is ``a`` or ``b``)
    """

    run_a: Mapping[str, Any]
    run_b: Mapping[str, Any]
    params: pd.DataFrame
    metrics: pd.DataFrame
    cells: pd.DataFrame
    datasets: pd.DataFrame
    packages: pd.DataFrame
    environments_known: bool = True
    producers: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["execution_id", "run", "cell", "code"])
    )
    relation: str = ""  # "b is a child of a", "a is a child of b" or ""

    @property
    def identical(self) -> bool:
        changed_metrics = (
            self.metrics["delta"].fillna(1).ne(0).any() if len(self.metrics) else False
        )
        return not (
            len(self.params)
            or changed_metrics
            or len(self.cells)
            or len(self.datasets)
            or len(self.packages)
        )

    def __repr__(self) -> str:
        return (
            f"<RunDiff {self.run_a['name']} -> {self.run_b['name']}: {len(self.params)} params, "
            f"{len(self.metrics)} metrics, {len(self.cells)} cells, {len(self.datasets)} "
            f"datasets, {len(self.packages)} packages differ>"
        )

    def to_html(self) -> str:
        from ..display.compare_html import run_diff_html

        return run_diff_html(self)

    def _repr_html_(self) -> str:
        return self.to_html()


def order_pair(runs: Sequence[Mapping[str, Any]]) -> tuple[Any, Any]:
    """(baseline, challenger) of two runs given as rows with ``run_id``/``id``,
    ``parent_run_id`` and ``started_at``: the parent first, else the older run first."""
    if len(runs) != 2:
        raise InvalidInput(f"A diff needs exactly two runs, got {len(runs)}.")
    first, second = runs

    def rid(r: Mapping[str, Any]) -> Any:
        return r.get("run_id", r.get("id"))

    if second.get("parent_run_id") == rid(first):
        return first, second
    if first.get("parent_run_id") == rid(second):
        return second, first
    older = str(first.get("started_at") or "") <= str(second.get("started_at") or "")
    return (first, second) if older else (second, first)


def diff_runs(store: Any, run_a: str, run_b: str) -> RunDiff:
    """Compute the :class:`RunDiff` of two runs (ids, id prefixes or names) in ``store``:
    ``run_a`` is the baseline, ``run_b`` the challenger (see :func:`order_pair`)."""
    for run in (run_a, run_b):
        if not isinstance(run, str):
            raise InvalidInput(
                f"A run must be a string, not {reprlib.repr(run)}. "
                "Example: .diff('r1', 'r2') with run ids, id prefixes or names"
            )
    a, b = store.get_run(run_a), store.get_run(run_b)
    relation = ""
    if b.get("parent_run_id") == a["id"]:
        relation = "b is a child of a"
    elif a.get("parent_run_id") == b["id"]:
        relation = "a is a child of b"
    envs = store.run_environments([a["id"], b["id"]])
    env_a, env_b = envs.get(a["id"]), envs.get(b["id"])
    metrics = _metric_deltas(store.metric_sources(a["id"]), store.metric_sources(b["id"]))
    parent_side = {"b is a child of a": "a", "a is a child of b": "b"}.get(relation)
    return RunDiff(
        run_a={"id": a["id"], "name": a["name"]},
        run_b={"id": b["id"], "name": b["name"]},
        params=_param_changes(store.get_params(a["id"]), store.get_params(b["id"])),
        metrics=metrics,
        cells=cell_changes(
            store.list_executions(a["id"]),
            store.list_executions(b["id"]),
            a["name"],
            b["name"],
            inherited_from=parent_side,
        ),
        datasets=dataset_changes(
            store.datasets_of_run(a["id"]), store.datasets_of_run(b["id"]), parent_side
        ),
        packages=_package_changes(env_a, env_b),
        environments_known=env_a is not None and env_b is not None,
        producers=_producers(store, metrics),
        relation=relation,
    )


def cell_label(execution_count: Any, cell_id: Any) -> str | None:
    """How a cell execution is named to the user: ``In [7]`` (and its cell id if known)."""
    parts = []
    if execution_count is not None and not pd.isna(execution_count):
        parts.append(f"In [{int(execution_count)}]")
    if cell_id:
        parts.append(f"cell {cell_id}")
    return " ".join(parts) or None


def _producers(store: Any, metrics: pd.DataFrame) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    seen: set[int] = set()
    for side in ("a", "b"):
        for execution_id in metrics[f"{side}_execution_id"].dropna():
            if int(execution_id) in seen:
                continue
            seen.add(int(execution_id))
            execution = store.get_execution(int(execution_id))
            if execution is not None:
                rows.append(
                    {
                        "execution_id": int(execution_id),
                        "run": side,
                        "cell": cell_label(execution["execution_count"], execution["cell_id"]),
                        "code": execution["code"],
                    }
                )
    return pd.DataFrame(rows, columns=["execution_id", "run", "cell", "code"])


def _param_changes(a: Mapping[str, Any], b: Mapping[str, Any]) -> pd.DataFrame:
    rows = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)  # a missing param and a None param read the same
        if va != vb or type(va) is not type(vb):
            rows.append({"param": key, "a": va, "b": vb})
    return pd.DataFrame(rows, columns=["param", "a", "b"], dtype=object)


def _metric_deltas(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> pd.DataFrame:
    by_a, by_b = {r["key"]: r for r in a}, {r["key"]: r for r in b}
    rows = []
    for key in sorted(set(by_a) | set(by_b)):
        ra, rb = by_a.get(key, {}), by_b.get(key, {})
        va, vb = ra.get("value"), rb.get("value")
        rows.append(
            {
                "metric": key,
                "a": va,
                "b": vb,
                "delta": None if va is None or vb is None else vb - va,
                "a_step": ra.get("step"),
                "b_step": rb.get("step"),
                "a_execution_id": ra.get("execution_id"),
                "a_cell": cell_label(ra.get("execution_count"), ra.get("cell_id")),
                "b_execution_id": rb.get("execution_id"),
                "b_cell": cell_label(rb.get("execution_count"), rb.get("cell_id")),
            }
        )
    columns = ["metric", "a", "b", "delta", "a_step", "b_step"]
    columns += ["a_execution_id", "a_cell", "b_execution_id", "b_cell"]
    frame = pd.DataFrame(rows, columns=columns)
    for col in ("a", "b", "delta"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    for col in ("a_step", "b_step", "a_execution_id", "b_execution_id"):
        frame[col] = frame[col].astype("Int64")
    return frame


# -- cells -------------------------------------------------------------------------------------


def _last_per_cell(executions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The last execution of each cell (by cell id; without one, of each distinct code), in
    the order the cells first ran."""
    last: dict[Any, dict[str, Any]] = {}
    for x in executions:
        key = ("id", x["cell_id"]) if x.get("cell_id") else ("code", x["code_hash"])
        last.pop(key, None)  # keep the latest, at its latest position
        last[key] = x
    return list(last.values())


def _lines(code: str) -> list[str]:
    return [ln.strip() for ln in code.splitlines() if ln.strip() and not ln.strip().startswith("#")]


def similarity(a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
    """How alike two cell executions are, 0 to 1: the share of the smaller cell's assigned
    names that the other assigns too, or of its lines that nearly match a line of the other
    (whichever is higher)."""
    if a["code_hash"] == b["code_hash"]:
        return 1.0
    wa, wb = set(a.get("writes") or []), set(b.get("writes") or [])
    by_names = len(wa & wb) / min(len(wa), len(wb)) if wa and wb else 0.0
    la, lb = _lines(a["code"]), _lines(b["code"])
    if not la or not lb:
        return by_names
    small, large = (la, lb) if len(la) <= len(lb) else (lb, la)
    matched = 0
    for line in small:
        if line in large or any(
            difflib.SequenceMatcher(None, line, other, autojunk=False).ratio() >= 0.75
            for other in large
        ):
            matched += 1
    return max(by_names, matched / len(small))


def _pair_cells(
    xa: list[dict[str, Any]], xb: list[dict[str, Any]]
) -> list[tuple[dict[str, Any] | None, dict[str, Any] | None]]:
    """Pairs (a, b) of the two runs' cells: same cell id first, then most alike first."""
    pairs: list[tuple[dict[str, Any] | None, dict[str, Any] | None]] = []
    ids_b = {x["cell_id"]: x for x in xb if x.get("cell_id")}
    left, used_b = [], set()
    for ea in xa:
        eb = ids_b.get(ea.get("cell_id")) if ea.get("cell_id") else None
        if eb is not None:
            pairs.append((ea, eb))
            used_b.add(id(eb))
        else:
            left.append(ea)
    right = [x for x in xb if id(x) not in used_b]
    scored = sorted(
        (
            (similarity(ea, eb), -abs(i - j), i, j)
            for i, ea in enumerate(left)
            for j, eb in enumerate(right)
        ),
        reverse=True,
    )
    taken_a: set[int] = set()
    taken_b: set[int] = set()
    for score, _, i, j in scored:
        if score < PAIR_THRESHOLD:
            break
        if i in taken_a or j in taken_b:
            continue
        taken_a.add(i)
        taken_b.add(j)
        pairs.append((left[i], right[j]))
    pairs += [(ea, None) for i, ea in enumerate(left) if i not in taken_a]
    pairs += [(None, eb) for j, eb in enumerate(right) if j not in taken_b]
    return pairs


def cell_changes(
    xa: list[dict[str, Any]],
    xb: list[dict[str, Any]],
    name_a: str,
    name_b: str,
    inherited_from: str | None = None,
) -> pd.DataFrame:
    """Cells whose code differs between two runs' executions (the last run of each cell).

    ``inherited_from`` (``"a"`` or ``"b"``) names the parent when one run is the other's
    child: the parent's cells the child did not run again were inherited, not removed.
    """
    rows = []
    for ea, eb in _pair_cells(_last_per_cell(xa), _last_per_cell(xb)):
        if ea is not None and eb is not None and ea["code_hash"] == eb["code_hash"]:
            continue
        if (ea is None and inherited_from == "b") or (eb is None and inherited_from == "a"):
            continue  # the child kept the parent's state
        label_a = cell_label(ea["execution_count"], ea.get("cell_id")) if ea else None
        label_b = cell_label(eb["execution_count"], eb.get("cell_id")) if eb else None
        text = "\n".join(
            difflib.unified_diff(
                ea["code"].splitlines() if ea else [],
                eb["code"].splitlines() if eb else [],
                fromfile=f"{name_a} {label_a or '(absent)'}",
                tofile=f"{name_b} {label_b or '(absent)'}",
                lineterm="",
            )
        )
        rows.append(
            {
                "cell": (ea or eb or {}).get("cell_id") or label_b or label_a,
                "change": "changed" if ea and eb else ("only in a" if ea else "only in b"),
                "a_execution_id": ea["id"] if ea else None,
                "b_execution_id": eb["id"] if eb else None,
                "a_cell": label_a,
                "b_cell": label_b,
                "diff": text,
                "_order": (eb or ea or {}).get("id", 0),
            }
        )
    rows.sort(key=lambda r: r.pop("_order"))
    columns = ["cell", "change", "a_execution_id", "b_execution_id", "a_cell", "b_cell", "diff"]
    frame = pd.DataFrame(rows, columns=columns)
    for col in ("a_execution_id", "b_execution_id"):
        frame[col] = frame[col].astype("Int64")
    return frame


# -- datasets and packages ---------------------------------------------------------------------


def dataset_changes(
    a: list[dict[str, Any]], b: list[dict[str, Any]], inherited_from: str | None = None
) -> pd.DataFrame:
    """Datasets whose content differs: a name both runs used whose latest fingerprints differ
    (``changed``), or a name only one run used (``only in a``/``only in b``; not reported for
    the parent's side when one run is the other's child, which inherited that data)."""

    def by_name(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for row in sorted(rows, key=lambda r: (r["name"], r["version"])):
            out.setdefault(row["name"], []).append(row)
        return out

    na, nb = by_name(a), by_name(b)
    rows = []
    for name in sorted(set(na) | set(nb)):
        ra, rb = na.get(name, []), nb.get(name, [])
        if ra and rb:
            if ra[-1]["fingerprint"] == rb[-1]["fingerprint"]:
                continue
            change = "changed"
        elif ra:
            if inherited_from == "a":
                continue
            change = "only in a"
        else:
            if inherited_from == "b":
                continue
            change = "only in b"
        rows.append(
            {
                "dataset": name,
                "change": change,
                "a_versions": ", ".join(f"v{r['version']}" for r in ra) or None,
                "b_versions": ", ".join(f"v{r['version']}" for r in rb) or None,
                "a_fingerprints": ra[-1]["fingerprint"] if ra else None,
                "b_fingerprints": rb[-1]["fingerprint"] if rb else None,
            }
        )
    columns = ["dataset", "change", "a_versions", "b_versions", "a_fingerprints", "b_fingerprints"]
    return pd.DataFrame(rows, columns=columns)


def _package_changes(
    env_a: Mapping[str, Any] | None, env_b: Mapping[str, Any] | None
) -> pd.DataFrame:
    columns = ["package", "a", "b"]
    if env_a is None or env_b is None:
        return pd.DataFrame(columns=columns)
    rows = []
    for label, key in (("python", "python_version"), ("platform", "platform")):
        if env_a[key] != env_b[key]:
            rows.append({"package": label, "a": env_a[key], "b": env_b[key]})
    pa, pb = env_a["packages"], env_b["packages"]
    for name in sorted(set(pa) | set(pb), key=str.lower):
        if pa.get(name) != pb.get(name):
            rows.append({"package": name, "a": pa.get(name), "b": pb.get(name)})
    return pd.DataFrame(rows, columns=columns, dtype=object)


__all__ = ["RunDiff", "cell_changes", "cell_label", "dataset_changes", "diff_runs", "order_pair"]
