"""Score what capture stored for one notebook against its hand-written labels.

Labels (``bench/fidelity/labels/*.json``, see ``bench/fidelity/README.md``) say what a reader
sees the notebook compute; the store says what capture recorded. Per category:

- **metrics**: each label entry (a place in the source that computes a metric, ``repeats``
  times in a loop) is matched with stored metric values whose origin (``metric_origins``: the
  function called, and the split its data came from) is the label's ``producer`` and
  ``split``. An entry scores min(1, values found / repeats), taking values no other entry
  took. A value is one call: a CV call's ``.mean`` (not its folds), one report (not each of
  its numbers), one step of a curve. ``search`` entries need the search's ``best_score`` and
  one child run per candidate. Precision: stored calls that no entry took.
- **models**: each entry (a place that fits a ``class``) takes one stored model of that class
  (distinct fingerprint). Precision: stored models no entry took.
- **params**: an entry is found when a stored param's last name part (``clf.C``,
  ``svc__C``, ``train_test_split.test_size``) equals the label's ``name`` and its value
  equals the label's ``value`` (or one of its ``values``).
- **datasets**: recall over the ``data`` names; ``non-data`` are stored names the labels list
  as ``not_data``; ``unlabelled`` are stored names in none of the three lists.
"""

from __future__ import annotations

import ast
import json
import math
import sqlite3
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any


def score(store_path: Path, labels: dict[str, Any]) -> dict[str, Any]:
    conn = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "metric_origins" not in tables:  # nothing was captured: an empty store scores zero
        conn.close()
        conn = sqlite3.connect(":memory:")
        conn.row_factory = sqlite3.Row
        from mlops_jupyter.store.schema import core

        for migration in core._migrations:
            migration.fn(_Script(conn))
    try:
        return {
            "metrics": _metrics(conn, labels.get("metrics", [])),
            "models": _models(conn, labels.get("models", [])),
            "params": _params(conn, labels.get("params", [])),
            "datasets": _datasets(conn, labels.get("datasets", {})),
        }
    finally:
        conn.close()


class _Script:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def executescript(self, script: str) -> None:
        self.conn.executescript(script)


# -- metrics ------------------------------------------------------------------------------------


def _calls(conn: sqlite3.Connection) -> Counter[tuple[str, str | None]]:
    """(producer, split) -> how many metric calls the store holds."""
    rows = conn.execute(
        """SELECT o.run_id, o.key, o.producer, o.split, o.model_name, m.step, m.execution_id
           FROM metric_origins o JOIN metrics m ON m.run_id = o.run_id AND m.key = o.key"""
    ).fetchall()
    seen: set[tuple[Any, ...]] = set()
    out: Counter[tuple[str, str | None]] = Counter()
    for r in rows:
        key = r["key"]
        if key.endswith((".fold", ".std")) or r["producer"] == "search":
            continue
        if r["model_name"] and key.startswith(r["model_name"] + "."):
            key = key[len(r["model_name"]) + 1 :]
        base = key.split(".")[0]
        call = (r["run_id"], r["execution_id"], base, r["step"], r["producer"], r["split"])
        if call not in seen:
            seen.add(call)
            out[(r["producer"], r["split"])] += 1
    return out


def _searches(conn: sqlite3.Connection) -> list[int]:
    """For each stored search (a best_score origin): how many candidate child runs it has."""
    rows = conn.execute(
        "SELECT run_id, model_name FROM metric_origins WHERE producer = 'search' AND key = 'best_score'"
    ).fetchall()
    out = []
    for r in rows:
        prefix = f"% · {r['model_name']} #%"
        n = conn.execute(
            "SELECT COUNT(*) FROM runs WHERE parent_run_id = ? AND name LIKE ?",
            (r["run_id"], prefix),
        ).fetchone()[0]
        out.append(int(n))
    return sorted(out, reverse=True)


def _metrics(conn: sqlite3.Connection, labels: list[dict[str, Any]]) -> dict[str, Any]:
    pool = _calls(conn)
    searches = _searches(conn)
    found, taken = 0.0, 0
    missed = []
    # Searches first, largest first, each taking the smallest stored search that holds its
    # candidates (a loop of searches on one run holds repeats x candidates child runs).
    ordered = sorted(labels, key=lambda e: -(int(e.get("candidates") or 0)))
    for entry in ordered:
        want = max(1, int(entry.get("repeats") or 1))
        if entry["producer"] == "search":
            # A loop of searches (repeats) is met by as many stored searches, or by one run
            # holding repeats x candidates child runs (a loop of one setting's searches).
            need = int(entry.get("candidates") or 0)
            got = 0.0
            while got < want:
                fits = [i for i, n in enumerate(searches) if n >= need]
                if not fits:
                    break
                held = searches.pop(min(fits, key=lambda i: searches[i]))
                got += max(1.0, held / need) if need else 1.0
                taken += 1
            credit = min(1.0, got / want)
            found += credit
            if credit < 1:
                missed.append({**entry, "found": got})
            continue
        key = (entry["producer"], entry.get("split"))
        got = min(pool[key], want)
        pool[key] -= got
        taken += got
        found += got / want
        if got < want:
            missed.append({**entry, "found": got})
    extra = sum(pool.values()) + len(searches)
    return {
        "labelled": len(labels),
        "found": round(found, 3),
        "extra": extra,
        "precision_base": taken + extra,
        "taken": taken,
        "missed": missed,
    }


# -- models -----------------------------------------------------------------------------------


def _models(conn: sqlite3.Connection, labels: list[dict[str, Any]]) -> dict[str, Any]:
    rows = conn.execute("SELECT DISTINCT fingerprint, class_name FROM models").fetchall()
    pool = Counter(r["class_name"].rsplit(".", 1)[-1] for r in rows)
    found, taken, missed = 0, 0, []
    for entry in labels:  # each entry first takes one model of its class...
        if pool[entry["class"]] > 0:
            pool[entry["class"]] -= 1
            found += 1
            taken += 1
        else:
            missed.append(entry)
    for entry in labels:  # ...then, for a loop, one per further configuration it fitted
        more = min(pool[entry["class"]], max(0, int(entry.get("repeats") or 1) - 1))
        pool[entry["class"]] -= more
        taken += more
    return {
        "labelled": len(labels),
        "found": found,
        "taken": taken,
        "extra": sum(pool.values()),
        "precision_base": taken + sum(pool.values()),
        "missed": missed,
    }


# -- params ----------------------------------------------------------------------------------


def _params(conn: sqlite3.Connection, labels: list[dict[str, Any]]) -> dict[str, Any]:
    stored: dict[str, list[Any]] = defaultdict(list)
    for r in conn.execute("SELECT key, value FROM params"):
        last = r["key"].split(".")[-1]
        value = _value(json.loads(r["value"]))
        for name in {last, last.split("__")[-1]}:
            stored[name].append(value)
    found, missed = 0, []
    for entry in labels:
        wanted = [entry.get("value"), *entry.get("values", [])]
        if any(_same(v, w) for v in stored.get(entry["name"], []) for w in wanted):
            found += 1
        else:
            missed.append(entry)
    return {"labelled": len(labels), "found": found, "missed": missed}


def _value(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return ast.literal_eval(value)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return value
    return value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or (a == b and type(a) is type(b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


# -- datasets -------------------------------------------------------------------------------


def _datasets(conn: sqlite3.Connection, labels: dict[str, list[str]]) -> dict[str, Any]:
    names = {r[0] for r in conn.execute("SELECT DISTINCT name FROM datasets")}
    data, optional, not_data = (set(labels.get(k, [])) for k in ("data", "optional", "not_data"))
    return {
        "labelled": len(data),
        "found": len(names & data),
        "missed": sorted(data - names),
        "stored": len(names),
        "non_data": sorted(names & not_data),
        "unlabelled": sorted(names - data - optional - not_data),
    }
