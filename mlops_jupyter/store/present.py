"""Whether a table exists, asked through the store's lock (safe from any thread).

The #16 tables are missing from a store written before them and opened read-only (not
upgraded). A table found once is remembered per store object; tables do not go away.
"""

from __future__ import annotations

from typing import Any


def has_table(store: Any, name: str) -> bool:
    found: set[str] = store.__dict__.setdefault("_present_tables", set())
    if name in found:
        return True
    if store.dialect != "sqlite":  # the team store: its schema's tables
        present = name in store.table_names()
    else:
        row = store.query_one(
            "SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        )
        present = row is not None
    if present:
        found.add(name)
    return present
