"""Helpers for the capture-fidelity corpus (real notebooks nobody here wrote).

The corpus itself (``bench/corpus/``, git-ignored) holds jupytext percent-format
scripts fetched from public repositories; ``bench/fidelity/corpus.json`` says
exactly which versions.  This module turns such a script into a notebook and
executes it headlessly, cell by cell, reporting each cell's outcome.

    python bench/_corpus.py            # run every corpus notebook plain, print a table
    python bench/_corpus.py ID [ID...] # only those ids

Cell numbers used in ``bench/fidelity/labels/*.json`` are indices into
``to_notebook(path).cells`` (0-based, markdown cells included, no prelude).
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
CORPUS_JSON = HERE / "fidelity" / "corpus.json"

# "# %%" optionally followed by a title, "[markdown]" and/or cell metadata (tags=[...]).
_MARKER = re.compile(r"^# %%(?P<rest>.*)$")


def _split_cells(text: str) -> list[tuple[str, list[str]]]:
    cells: list[tuple[str, list[str]]] = [("code", [])]
    for line in text.splitlines():
        m = _MARKER.match(line)
        if m and (m.group("rest") == "" or m.group("rest")[0] == " "):
            kind = "markdown" if m.group("rest").strip().startswith("[markdown]") else "code"
            cells.append((kind, []))
        else:
            cells[-1][1].append(line)
    return cells


def _markdown_line(line: str) -> str:
    if line.startswith("# "):
        return line[2:]
    if line == "#":
        return ""
    return line


def to_notebook(py_path: str | os.PathLike) -> nbformat.NotebookNode:
    """Convert a jupytext percent-format script into a notebook.

    ``# %%`` starts a code cell, ``# %% [markdown]`` a markdown cell whose lines
    drop the leading ``# ``; text before the first marker is a (code) cell too;
    empty cells are dropped.
    """
    text = Path(py_path).read_text(encoding="utf-8")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    for kind, lines in _split_cells(text):
        if kind == "markdown":
            lines = [_markdown_line(ln) for ln in lines]
        source = "\n".join(lines).strip("\n")
        if not source.strip():
            continue
        if kind == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(source))
        else:
            nb.cells.append(nbformat.v4.new_code_cell(source))
    return nb


@dataclass
class Executed:
    seconds: float  # wall time, the kernel's start included
    cell_seconds: float  # the cells' own execution times (prelude included, epilogue not)
    outcomes: list  # ("ok"|"error", error name) per cell of the notebook
    epilogue: str = ""  # what the epilogue cell printed

    def __iter__(self):  # seconds, cell_seconds, outcomes = execute(...)
        return iter((self.seconds, self.cell_seconds, self.outcomes))


def execute(nb, workdir, *, timeout=600, prelude=None, env=None, epilogue=None):
    """Execute ``nb`` (a copy) in ``workdir``; return an :class:`Executed`.

    ``seconds`` is the wall time including the kernel's start; ``cell_seconds`` the sum of
    the cells' own execution times (prelude included), from nbclient's timing metadata.
    ``outcomes`` has one ``("ok"|"error", error_name)`` per cell of ``nb``
    (markdown cells are "ok"); the prelude cell, when given, is not reported.
    Errors do not stop the run (``allow_errors=True``). ``env`` adds environment variables
    for the kernel; ``epilogue`` is code run after the last cell (its output is returned, its
    time and outcome are not counted).
    """
    nb = copy.deepcopy(nb)
    offset = 0
    if prelude:
        nb.cells.insert(0, nbformat.v4.new_code_cell(prelude))
        offset = 1
    if epilogue:
        nb.cells.append(nbformat.v4.new_code_cell(epilogue))
    extra = {"MPLBACKEND": "Agg", **(env or {})}
    backup = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        client = NotebookClient(
            nb,
            kernel_name="python3",
            timeout=timeout,
            allow_errors=True,
            resources={"metadata": {"path": str(workdir)}},
        )
        start = time.perf_counter()
        client.execute()
        seconds = time.perf_counter() - start
    finally:
        for k, v in backup.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    tail = ""
    if epilogue:
        last = nb.cells.pop()
        tail = "".join(
            o.get("text", "") for o in last.get("outputs", []) if o.get("name") == "stdout"
        )
    cell_seconds = sum(_cell_time(c) for c in nb.cells if c.cell_type == "code")
    outcomes = []
    for cell in nb.cells[offset:]:
        if cell.cell_type != "code":
            outcomes.append(("ok", None))
            continue
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        outcomes.append(("error", errors[0].get("ename")) if errors else ("ok", None))
    return Executed(seconds, cell_seconds, outcomes, tail)


def _cell_time(cell) -> float:
    from datetime import datetime

    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not start or not end:
        return 0.0
    parse = lambda t: datetime.fromisoformat(t.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def corpus_entries() -> list[dict]:
    return [e for e in json.loads(CORPUS_JSON.read_text())["notebooks"]]


def verify_corpus(corpus: Path = CORPUS) -> list[str]:
    """Problems with the local copy: missing files or lengths differing from corpus.json."""
    data = json.loads(CORPUS_JSON.read_text())
    problems = []
    for e in data["notebooks"] + data.get("files", []):
        path = Path(corpus) / e["file"]
        if not path.exists():
            problems.append(f"missing {e['file']}")
        elif len(path.read_text(encoding="utf-8")) != e["chars"]:
            problems.append(f"length of {e['file']} differs from corpus.json ({e['chars']})")
    return problems


def workdir_for(entry: dict, corpus: Path = CORPUS) -> Path:
    return (Path(corpus) / entry["file"]).parent


def main(argv: list[str]) -> int:
    problems = verify_corpus()
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2
    entries = corpus_entries()
    if argv:
        entries = [e for e in entries if e["id"] in argv]
    failed = 0
    for e in entries:
        nb = to_notebook(CORPUS / e["file"])
        seconds, _cells, outcomes = execute(nb, workdir_for(e))
        errs = [(i, name) for i, (status, name) in enumerate(outcomes) if status == "error"]
        failed += bool(errs)
        print(f"{e['id']:<60} {seconds:6.1f}s cells={len(outcomes):3d} errors={errs}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
