"""Reproducibility status of a run: could running the notebook top to bottom give its results?

From the captured executions that the results depend on (the slice), a run is **stale** when:

- a cell read a name supplied by a cell *below* it in the notebook (out-of-order execution), or
  by an earlier run of itself (a cell run several times, each run building on the last);
- a cell was edited after it ran: the same cell id ran later with other code, or the notebook's
  current source of that cell differs from the code that ran;
- a cell whose effects were used was deleted from the notebook.

It is **unknown** when nothing was captured, or when the results read names no captured cell
defined (state from before capture). Otherwise it is **reproducible**. A headless re-run
(``verify``) settles it: its latest verdict, when there is one, decides the status.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .slice import run_slice

STATUSES = ("reproducible", "stale", "unknown")


@dataclass(frozen=True)
class ReproStatus:
    status: str  # "reproducible" | "stale" | "unknown"
    reasons: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "reproducible"

    def _repr_html_(self) -> str:
        from ..display.html import esc

        items = "".join(f"<li>{esc(r)}</li>" for r in self.reasons)
        return (
            f'<div class="mlops-repro mlops-repro-{esc(self.status)}">'
            f"<b>{esc(self.status)}</b><ul>{items}</ul></div>"
        )


def normalize_code(code: str) -> str:
    return "\n".join(line.rstrip() for line in str(code).strip().splitlines())


def read_notebook_cells(notebook: Any) -> list[tuple[str | None, str]] | None:
    """``(cell id, source)`` of the code cells of a notebook (a path or a NotebookNode).

    A v4 file is read as the JSON it is: importing nbformat costs seconds on first use (its
    schema validator compiles grammars), which the first ``mj.compare`` of a session paid."""
    if notebook is None:
        return None
    if isinstance(notebook, (str, os.PathLike)):
        path = Path(notebook)
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("nbformat") == 4:
                return [
                    (c.get("id"), _source(c.get("source", "")))
                    for c in data.get("cells", [])
                    if c.get("cell_type") == "code"
                ]
            import nbformat

            notebook = nbformat.read(path, as_version=4)
        except Exception:
            return None
    return [(c.get("id"), str(c.source)) for c in notebook.cells if c.cell_type == "code"]


def _source(source: Any) -> str:
    """A cell's source as nbformat gives it: a list of lines is joined."""
    return "".join(source) if isinstance(source, list) else str(source)


def reproducibility(store: Any, run_id: str, notebook: Any = None) -> ReproStatus:
    """Whether a run's results came from in-order execution of the current cell code.

    ``notebook`` is a path or a NotebookNode to compare against; by default the run's own
    ``notebook_path`` when that file exists.
    """
    run = store.get_run(run_id)
    cells = read_notebook_cells(notebook if notebook is not None else _run_notebook(run))
    status = _lineage_status(store, run["id"], cells)
    verdict = store.latest_verification(run["id"])
    if verdict is not None:
        when = str(verdict["verified_at"])[:19].replace("T", " ")
        if verdict["reproduced"]:
            return ReproStatus(
                "reproducible",
                [f"verified by a headless re-run on {when} UTC", *status.reasons],
            )
        return ReproStatus(
            "stale", [f"verify failed on {when} UTC: {verdict['summary']}", *status.reasons]
        )
    return status


def _run_notebook(run: Mapping[str, Any]) -> Path | None:
    """The run's recorded notebook file, when it is on disk."""
    from .inputs import existing_file

    return existing_file(run.get("notebook_path"))


def _lineage_status(
    store: Any, run_id: str, cells: list[tuple[str | None, str]] | None
) -> ReproStatus:
    """:func:`assess` on the run's captured lineage, without a stored verdict."""
    sliced, _ = run_slice(store, run_id)
    session = store.session_executions(run_id)
    in_order = (store.find_run(run_id) or {}).get("source") == "headless"
    return assess(
        session, sliced.kept, sliced.suppliers, cells, sliced.unresolved, in_order=in_order
    )


NO_IDS = (
    "cells ran without cell ids (plain IPython, nbclient, papermill) and their code does not "
    "match one notebook cell each, so the order they ran in cannot be checked"
)


def _cell_keys(
    executions: Sequence[Mapping[str, Any]],
    cells: list[tuple[str | None, str]] | None,
    in_order: bool,
) -> tuple[dict[int, str | None], dict[str, int]]:
    """Which notebook cell each execution was (``{execution id: key}``) and each key's position.

    A front end's cell id says it. Without one (plain IPython, nbclient, papermill) the
    execution's code must match exactly one cell of the notebook; with no notebook to match,
    only a run known to go top to bottom (a headless re-run) orders its cells by when they
    first ran. Anything else is ``None``: its place in the notebook is unknown.
    """
    position: dict[str, int] = {}
    if cells is not None:
        position = {cid: i for i, (cid, _) in enumerate(cells) if cid}
        sites: dict[str, list[int]] = {}
        for i, (_cid, src) in enumerate(cells):
            sites.setdefault(normalize_code(src), []).append(i)
    keys: dict[int, str | None] = {}
    for e in executions:
        cid, key = e.get("cell_id"), None
        if cid and (cells is not None or cid in position):
            key = cid
        elif cid:  # no notebook: the order in which cells first ran stands in for it
            key = cid
            position[cid] = len(position)
        elif cells is not None:
            found = sites.get(normalize_code(e.get("code", "")), [])
            if len(found) == 1:
                key = f"#code{found[0]}"
                position[key] = found[0]
        elif in_order:
            key = f"#ran{e.get('code_hash')}"
            position.setdefault(key, len(position))
        keys[int(e["id"])] = key
    return keys, position


def assess(
    session: Sequence[Mapping[str, Any]],
    kept: Sequence[Mapping[str, Any]],
    suppliers: Mapping[int, Mapping[str, int]],
    cells: list[tuple[str | None, str]] | None,
    unresolved: frozenset[str] = frozenset(),
    *,
    in_order: bool = False,
) -> ReproStatus:
    """The pure check behind :func:`reproducibility` (see the module docstring).

    ``in_order``: the run executed its notebook top to bottom (a headless re-run), so cells
    without ids may be ordered by when they ran. Otherwise a result-feeding cell without a cell
    id that the notebook's code cannot place makes the status ``unknown``, never a false
    ``reproducible``.
    """
    if not kept:
        return ReproStatus("unknown", ["no captured cell produced the run's results"])
    by_id = {int(e["id"]): e for e in session}
    for e in kept:
        by_id.setdefault(int(e["id"]), e)
    keys, position = _cell_keys(sorted(by_id.values(), key=lambda e: int(e["id"])), cells, in_order)
    source = {cid: src for cid, src in cells if cid} if cells is not None else {}
    reasons: list[str] = []
    unplaced = False

    def label(e: Mapping[str, Any]) -> str:
        count = e.get("execution_count")
        key = keys.get(int(e["id"]))
        where = f" (cell {position[key] + 1})" if key in position and cells is not None else ""
        return f"[{count if count is not None else '?'}]{where}"

    for e in kept:
        cid = e.get("cell_id")
        if not cid:
            if keys.get(int(e["id"])) is None:
                unplaced = True
                if cells is not None:
                    reasons.append(
                        f"the code of {label(e)} is in no cell of the notebook (edited or "
                        "deleted after it ran)"
                    )
            continue
        later = [
            x
            for x in session
            if int(x["id"]) > int(e["id"])
            and x.get("cell_id") == cid
            and x.get("code_hash") != e.get("code_hash")
        ]
        if later:
            reasons.append(
                f"cell {label(e)} was edited and re-run as {label(later[-1])} after the results "
                "used its old code"
            )
        elif cells is not None and cid not in position:
            reasons.append(
                f"cell {label(e)} was deleted from the notebook but its effects were used"
            )
        elif cid in source and normalize_code(source[cid]) != normalize_code(e.get("code", "")):
            reasons.append(f"cell {label(e)} was edited in the notebook after it ran")

    for reader_id, names in suppliers.items():
        reader = by_id.get(int(reader_id))
        if reader is None:
            continue
        for name, supplier_id in sorted(names.items()):
            supplier = by_id.get(int(supplier_id))
            if supplier is None:
                continue
            r_pos = position.get(keys.get(int(reader_id)) or "")
            s_pos = position.get(keys.get(int(supplier_id)) or "")
            if r_pos is None or s_pos is None:
                unplaced = True
                continue
            if s_pos > r_pos:
                reasons.append(
                    f"cell {label(reader)} read `{name}` from cell {label(supplier)} below it "
                    "(out-of-order execution)"
                )
            elif s_pos == r_pos and int(supplier_id) != int(reader_id):
                reasons.append(
                    f"cell {label(reader)} read `{name}` from an earlier run of itself "
                    f"{label(supplier)}: running the notebook once gives another value"
                )

    if reasons:
        return ReproStatus("stale", reasons)
    if unplaced:
        return ReproStatus("unknown", [NO_IDS])
    if unresolved:
        return ReproStatus(
            "unknown",
            [
                "the results read names no captured cell defined: "
                + ", ".join(f"`{n}`" for n in sorted(unresolved))
            ],
        )
    checked = "" if cells is not None else " (notebook file not found: its current code unchecked)"
    return ReproStatus("reproducible", [f"in-order execution of the cells that ran{checked}"])


# How many runs of one table get the full lineage check; the rest show only a stored verdict.
TABLE_CHECK_LIMIT = 100


def table_statuses(
    store: Any, run_ids: Sequence[str], *, limit: int = TABLE_CHECK_LIMIT
) -> dict[str, str | None]:
    """``{run_id: "reproducible" | "stale" | "unknown" | None}`` for a runs table.

    A stored ``verify`` verdict decides, read in one query. Runs without one get the lineage
    check of :func:`reproducibility`, the first ``limit`` of them (a table of thousands of runs
    stays fast); the rest are ``None`` (not checked). A notebook file is read once per table.
    """
    ids = list(map(str, run_ids))
    out: dict[str, str | None] = dict.fromkeys(ids)
    if not ids:
        return out
    verdicts = store.latest_verdicts(ids)
    notebooks: dict[str, list[tuple[str | None, str]] | None] = {}
    checked = 0
    for run_id in ids:
        if run_id in verdicts:
            out[run_id] = "reproducible" if verdicts[run_id] else "stale"
            continue
        if checked >= limit:
            continue
        checked += 1
        run = store.find_run(run_id)
        if run is None:
            continue
        path = run.get("notebook_path") or ""
        if path not in notebooks:
            notebooks[path] = read_notebook_cells(_run_notebook(run))
        out[run_id] = _lineage_status(store, run_id, notebooks[path]).status
    return out
