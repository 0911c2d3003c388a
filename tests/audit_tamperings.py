"""Tamperings of a registry by someone who can write the store folder, and what must catch them.

Shared by ``tests/test_audit_tamper.py`` (each must be detected in the modes it claims) and
``bench/audit_tamper.py`` (prints how many each mode detects). An attacker here has sqlite3,
the files, and this project's source (so ``audit_hash`` too), but not
``$MLOPS_JUPYTER_AUDIT_KEY`` and not the head hash kept outside the store.

``needs``: what verify must be given to detect it: ``""`` (plain verify), ``"key"`` (the HMAC
key), ``"key|expect"`` (either the key or an expected head).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_jupyter.store.registry import GENESIS_HASH, audit_hash


@dataclass(frozen=True)
class Tampering:
    name: str
    what: str
    apply: Callable[[Path], None]
    needs: str = ""


def _sql(db: Path, *statements: str, params: tuple[Any, ...] = ()) -> None:
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER IF EXISTS audit_records_no_update")
    conn.execute("DROP TRIGGER IF EXISTS audit_records_no_delete")
    conn.execute("DROP TRIGGER IF EXISTS audit_head_no_delete")
    for sql in statements:
        conn.execute(sql, params if "?" in sql else ())
    conn.commit()
    conn.close()


def sql(*statements: str) -> Callable[[Path], None]:
    """A tampering that only runs SQL (with the append-only triggers dropped first)."""
    return lambda db: _sql(db, *statements)


def _records(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    conn.row_factory = sqlite3.Row
    return [dict(r) for r in conn.execute("SELECT * FROM audit_records ORDER BY id")]


def _rehash(db: Path) -> None:
    """Renumber and recompute every hash and the head, as someone who read audit_hash can."""
    conn = sqlite3.connect(db)
    rows = _records(conn)
    conn.execute("DELETE FROM audit_records")
    prev = GENESIS_HASH
    for i, row in enumerate(rows, start=1):
        row["id"], row["prev_hash"] = i, prev
        row["hash"] = prev = audit_hash(row)
        cols = list(row)
        conn.execute(
            f"INSERT INTO audit_records ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            [row[c] for c in cols],
        )
    conn.execute("UPDATE audit_head SET n_records = ?, hash = ?", (len(rows), prev))
    conn.commit()
    conn.close()


def _append(db: Path, record: dict[str, Any], *, head: bool = True) -> int:
    conn = sqlite3.connect(db)
    rows = _records(conn)
    last = rows[-1]
    row = {**{k: None for k in last}, **record, "id": last["id"] + 1, "prev_hash": last["hash"]}
    row.setdefault("forced", 0)
    row["forced"] = row["forced"] or 0
    row["mac"] = None
    row["hash"] = audit_hash(row)
    cols = list(row)
    conn.execute(
        f"INSERT INTO audit_records ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
        [row[c] for c in cols],
    )
    if head:
        conn.execute("UPDATE audit_head SET n_records = ?, hash = ?", (row["id"], row["hash"]))
    conn.commit()
    conn.close()
    return int(row["id"])


def _last_id(db: Path, action: str) -> int:
    conn = sqlite3.connect(db)
    rid = conn.execute("SELECT MAX(id) FROM audit_records WHERE action = ?", (action,)).fetchone()[
        0
    ]
    conn.close()
    return int(rid)


def _artifact(db: Path, sql: str) -> Path:
    conn = sqlite3.connect(db)
    digest = conn.execute(sql).fetchone()[0]
    conn.close()
    return db.parent / "artifacts" / digest


# -- the tamperings ----------------------------------------------------------------------------


def edit_reason(db: Path) -> None:
    _sql(db, f"UPDATE audit_records SET reason = 'routine' WHERE id = {_last_id(db, 'promote')}")


def edit_gates(db: Path) -> None:
    rid = _last_id(db, "promote_failed")
    _sql(db, f"UPDATE audit_records SET gates = '{{\"passed\": true}}' WHERE id = {rid}")


def swap_two_records(db: Path) -> None:
    _sql(
        db,
        "UPDATE audit_records SET id = -1 WHERE id = 2",
        "UPDATE audit_records SET id = 2 WHERE id = 3",
        "UPDATE audit_records SET id = 3 WHERE id = -1",
    )


def append_garbage(db: Path) -> None:
    _sql(
        db,
        f"""INSERT INTO audit_records (id, at, action, who, name, to_version, alias, forced,
            prev_hash, hash) SELECT MAX(id) + 1, '2030-01-01', 'promote_failed', 'mallory', 'bc',
            3, 'production', 0, '{GENESIS_HASH}', 'f00d' FROM audit_records""",
    )


def append_forged_record(db: Path) -> None:
    """A correctly chained and hashed record (and head): only a signature can tell."""
    _append(
        db,
        {
            "at": "2030-01-01T00:00:00+00:00",
            "action": "promote_failed",
            "who": "ann",
            "name": "bc",
            "to_version": 3,
            "alias": "staging",
            "reason": "forged",
        },
    )


def forge_promotion(db: Path) -> None:
    """Promote v3 to production by hand, every table consistent, chain and head recomputed."""
    at = "2030-01-01T00:00:00+00:00"
    rid = _append(
        db,
        {
            "at": at,
            "action": "promote",
            "who": "ann",
            "name": "bc",
            "from_version": 2,
            "to_version": 3,
            "alias": "production",
        },
    )
    _sql(
        db,
        f"UPDATE alias_history SET end_at = '{at}' WHERE alias = 'production' AND end_at IS NULL",
        f"""INSERT INTO alias_history (name, alias, version, action, start_at, audit_id)
            VALUES ('bc', 'production', 3, 'promote', '{at}', {rid})""",
        f"UPDATE aliases SET version = 3, since = '{at}' WHERE alias = 'production'",
    )


def recompute_chain(db: Path) -> None:
    _sql(db, "UPDATE audit_records SET who = 'mallory' WHERE id = 1")
    _rehash(db)


def erase_promotion_naive(db: Path) -> None:
    """Remove the promotion of v2, its alias history row, and move the alias back."""
    rid = _last_id(db, "promote")
    _sql(
        db,
        f"DELETE FROM audit_records WHERE id = {rid}",
        f"DELETE FROM alias_history WHERE audit_id = {rid}",
        "UPDATE alias_history SET end_at = NULL WHERE id = (SELECT MAX(id) FROM alias_history)",
        """UPDATE aliases SET version = (SELECT version FROM alias_history WHERE end_at IS NULL
           AND alias = 'production') WHERE alias = 'production'""",
        f"UPDATE alias_history SET audit_id = audit_id - 1 WHERE audit_id > {rid}",
    )


def erase_promotion(db: Path) -> None:
    """The same, then renumber and recompute the chain and the head."""
    erase_promotion_naive(db)
    _rehash(db)


def edit_version_metrics(db: Path) -> None:
    _sql(db, """UPDATE model_versions SET metrics = '{"accuracy": 0.999}' WHERE version = 3""")


def edit_version_artifact(db: Path) -> None:
    _sql(
        db,
        """UPDATE model_versions SET artifact_hash = (SELECT artifact_hash FROM model_versions
           WHERE version = 1) WHERE version = 3""",
    )


def insert_version(db: Path) -> None:
    conn = sqlite3.connect(db)
    cols = [r[1] for r in conn.execute("PRAGMA table_info(model_versions)") if r[1] != "id"]
    conn.close()
    listed = ", ".join(c if c != "version" else "4" for c in cols)
    _sql(
        db,
        f"INSERT INTO model_versions ({', '.join(cols)}) SELECT {listed} FROM model_versions "
        "WHERE version = 3",
    )


def swap_model_file(db: Path) -> None:
    path = _artifact(db, "SELECT artifact_hash FROM model_versions WHERE version = 1")
    path.write_bytes(
        _artifact(db, "SELECT artifact_hash FROM model_versions WHERE version = 3").read_bytes()
    )


def swap_eval_snapshot(db: Path) -> None:
    path = _artifact(
        db,
        """SELECT e.snapshot_hash FROM eval_datasets e JOIN model_versions v
           ON v.eval_fingerprint = e.fingerprint WHERE v.version = 2""",
    )
    path.write_bytes(path.read_bytes()[:-64] + b"\0" * 64)


def edit_policy(db: Path) -> None:
    conn = sqlite3.connect(db)
    policy = json.loads(conn.execute("SELECT policy FROM policies").fetchone()[0])
    conn.close()
    policy["metrics"] = {}
    _sql(db, "UPDATE policies SET policy = ?", params=(json.dumps(policy),))


def wipe_registry(db: Path) -> None:
    """Every registry row gone and the head reset: a registry that never was."""
    _sql(
        db,
        "DELETE FROM audit_records",
        "DELETE FROM alias_history",
        "DELETE FROM aliases",
        "DELETE FROM policies",
        "DELETE FROM model_versions",
        "DELETE FROM registered_models",
        f"UPDATE audit_head SET n_records = 0, hash = '{GENESIS_HASH}', mac = NULL",
    )


TAMPERINGS: list[Tampering] = [
    Tampering("edit_reason", "edit a promotion's reason", edit_reason),
    Tampering("edit_gates", "turn a failed promotion's gate results into a pass", edit_gates),
    Tampering(
        "delete_middle",
        "delete a record in the middle",
        sql("DELETE FROM audit_records WHERE id = 3"),
    ),
    Tampering(
        "delete_last",
        "delete the last record",
        sql("DELETE FROM audit_records WHERE id = (SELECT MAX(id) FROM audit_records)"),
    ),
    Tampering(
        "delete_last_three",
        "delete the last three records",
        sql("DELETE FROM audit_records WHERE id > (SELECT MAX(id) - 3 FROM audit_records)"),
    ),
    Tampering("swap_two_records", "swap the order of two records", swap_two_records),
    Tampering("append_garbage", "append a record with a made-up hash", append_garbage),
    Tampering(
        "append_forged", "append a correctly hashed record and head", append_forged_record, "key"
    ),
    Tampering(
        "forge_promotion",
        "promote by hand, every table and hash consistent",
        forge_promotion,
        "key",
    ),
    Tampering(
        "recompute_chain",
        "edit a record and recompute the whole chain",
        recompute_chain,
        "key|expect",
    ),
    Tampering(
        "erase_promotion",
        "erase a promotion everywhere, chain recomputed",
        erase_promotion,
        "key|expect",
    ),
    Tampering(
        "erase_promotion_naive", "erase a promotion and its alias move", erase_promotion_naive
    ),
    Tampering(
        "edit_version_metrics",
        "inflate a version's metrics in model_versions",
        edit_version_metrics,
    ),
    Tampering(
        "edit_version_artifact", "point a version at another model file", edit_version_artifact
    ),
    Tampering(
        "edit_version_format",
        "mark a skops version as pickle",
        sql("UPDATE model_versions SET format = 'pickle' WHERE version = 1"),
    ),
    Tampering(
        "delete_version",
        "delete a version row",
        sql("DELETE FROM model_versions WHERE version = 3"),
    ),
    Tampering("insert_version", "insert a version row", insert_version),
    Tampering("swap_model_file", "replace a model file's bytes", swap_model_file),
    Tampering("swap_eval_snapshot", "replace an evaluation snapshot's bytes", swap_eval_snapshot),
    Tampering(
        "edit_alias",
        "point production at another version",
        sql("UPDATE aliases SET version = 3 WHERE alias = 'production'"),
    ),
    Tampering(
        "edit_alias_history",
        "stretch an alias's time range",
        sql("UPDATE alias_history SET end_at = '2100-01-01' WHERE id = 1"),
    ),
    Tampering("edit_policy", "drop a policy's metric thresholds", edit_policy),
    Tampering("drop_table", "DROP TABLE audit_records", sql("DROP TABLE audit_records")),
    Tampering("empty_trail", "delete every audit record", sql("DELETE FROM audit_records")),
    Tampering(
        "wipe_registry", "delete every registry row and reset the head", wipe_registry, "key|expect"
    ),
]

MODES = ("plain", "expect", "key", "key+expect")


def detected_in(t: Tampering, mode: str) -> bool:
    """Whether ``t`` must be detected in ``mode`` (what the README claims)."""
    if not t.needs:
        return True
    return any(part in mode.split("+") for part in t.needs.split("|"))


def copy_store(base: Path, target: Path) -> Path:
    """A copy of the store folder (database and artifacts) to tamper with."""
    shutil.copytree(base, target)
    return target / "lineage.db"


def build_registry(folder: Path) -> Path:
    """A registry with three versions, a policy, two promotions and a failed one."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    import mlops_jupyter as mj
    from mlops_jupyter.store import open_store

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
    models = [
        make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=1000)).fit(
            X_train, y_train
        )
        for c in (1.0, 0.5)
    ]
    models.append(DecisionTreeClassifier(max_depth=1, random_state=0).fit(X_train, y_train))
    db = folder / "lineage.db"
    store = open_store(db, shared=False)
    for model in models:
        mj.register_model(
            model, "bc", eval_data=(X_test, y_test), train_data=X_train, store=store, by="ann"
        )
    mj.set_policy(
        "bc", metrics={"accuracy": ">= 0.95"}, lineage=False, compare={"margin": 0.5}, store=store
    )
    mj.promote("bc", 1, "production", store=store)
    mj.promote("bc", 2, "production", reason="newer", store=store)
    assert not mj.promote("bc", 3, "production", store=store).moved
    store.close()
    return db
