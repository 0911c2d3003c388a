"""A bundle's inputs and environment: input files (hashed, copied when small), the data root,
the environment the run had, and the pinned requirements of the cells kept."""

from __future__ import annotations

import os
import platform
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import ExportError
from . import parameterize as pz
from .slice import code_names

DATA_DIR = "data"
COPY_LIMIT_BYTES = 50 * 1024 * 1024  # inputs up to this total are copied into data/


# -- inputs ------------------------------------------------------------------------------------


@contextmanager
def writing(target: Path) -> Iterator[None]:
    """Turn an ``OSError`` raised while writing into the bundle ``target`` into one line."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ExportError(
            f"Cannot write the bundle to {target}: {reason}. "
            "Choose another folder to export into (--to DIR)."
        ) from None


def file_hash(path: Path) -> str:
    import xxhash

    h = xxhash.xxh3_128()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_inputs(
    store: Any,
    run_id: str,
    manifest: dict[str, Any],
    target: Path,
    copy_inputs: bool | None,
) -> tuple[list[dict[str, Any]], str, list[str]]:
    run = store.get_run(run_id)
    nb_path = existing_file(run.get("notebook_path"))
    kept = {int(c["execution_id"]) for c in manifest["cells"] if c.get("execution_id")}
    rows = [r for r in store.datasets_of_executions(sorted(kept)) if r["source_path"]]
    codes = [str((store.get_execution(i) or {}).get("code", "")) for i in sorted(kept)]
    # The kernel's working directory: the notebook's folder, else what the code's relative
    # paths imply ("data/train.csv" read as /proj/data/train.csv -> /proj), else here.
    root = nb_path.parent if nb_path else _root_from_literals(rows, codes) or Path.cwd()
    messages: list[str] = []
    files: dict[Path, dict[str, Any]] = {}
    for row in rows:
        path = Path(row["source_path"])
        path = path if path.is_absolute() else root / path
        if path in files:
            continue
        if not path.is_file():
            messages.append(f"Input {path} is gone, so the bundle cannot check or copy it.")
            continue
        digest = file_hash(path)
        if row["source_hash"] and str(row["source_hash"]) != digest:  # same xxh3-128 as capture
            messages.append(
                f"Input {path.name} changed since the run read it: the bundle holds today's "
                "file, so its results may differ."
            )
        files[path] = {"hash": digest, "size": path.stat().st_size}

    inside = all(_is_within(p, root) for p in files)
    total = sum(f["size"] for f in files.values())
    copy = (
        bool(files)
        and inside
        and (copy_inputs if copy_inputs is not None else total <= COPY_LIMIT_BYTES)
    )
    if copy_inputs and not inside:
        messages.append(
            f"Inputs outside {root} are not copied: the bundle reads them where they are."
        )
    inputs = []
    with writing(target):
        for path, info in files.items():
            rel = os.path.relpath(path, root) if inside else str(path)
            if copy:
                dest = target / DATA_DIR / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, dest)
            inputs.append({"path": rel, **info, "copied": copy})
        if copy or not files:
            (target / DATA_DIR).mkdir(parents=True, exist_ok=True)
            return inputs, DATA_DIR, messages
    return inputs, str(root), messages


def _root_from_literals(rows: list[dict[str, Any]], codes: list[str]) -> Path | None:
    import ast

    literals: set[str] = set()
    for code in codes:
        try:
            tree = ast.parse(pz.python_source(code))
        except SyntaxError:
            continue
        literals.update(
            n.value
            for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)
        )
    for row in rows:
        path = Path(str(row["source_path"]))
        if not path.is_absolute():
            continue
        for text in literals:
            rel = Path(text)
            if rel.is_absolute() or not text.strip() or "\n" in text:
                continue
            parts = [p for p in rel.parts if p != "."]
            if parts and ".." not in parts and list(path.parts[-len(parts) :]) == parts:
                return Path(*path.parts[: -len(parts)])
    return None


def _is_within(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def existing_file(path: Any) -> Path | None:
    """The recorded notebook file, if it is on disk.

    Jupyter may record a path relative to the server's root (``notebooks/train.ipynb``) while
    the kernel runs in the notebook's folder: the file name in the working directory counts.
    """
    if not path:
        return None
    p = Path(str(path))
    if p.is_file():
        return p.resolve()
    if not p.is_absolute() and (Path.cwd() / p.name).is_file():
        return (Path.cwd() / p.name).resolve()
    return None


# -- environment -------------------------------------------------------------------------------


def environment(store: Any, run: Mapping[str, Any]) -> dict[str, Any]:
    env = store.get_environment(run["environment_id"]) if run.get("environment_id") else None
    if env:
        return {
            "python": env["python_version"],
            "platform": env["platform"],
            "packages": env["packages"],
        }
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {},
        "note": "no environment captured with the run; versions are this exporter's",
    }


def requirements(codes: Sequence[str], env: Mapping[str, Any]) -> list[str]:
    """``name==version`` for the distributions the cells import, plus mlops-jupyter."""
    from importlib import metadata

    modules = set().union(*(code_names(c).imports for c in codes)) if codes else set()
    dist_of = metadata.packages_distributions()
    known = {str(k).lower().replace("_", "-"): v for k, v in (env.get("packages") or {}).items()}
    dists = {"mlops-jupyter"}
    for module in modules:
        for dist in dist_of.get(module, []):
            dists.add(dist)
    lines = []
    for dist in sorted(dists, key=str.lower):
        key = dist.lower().replace("_", "-")
        version = __version__ if key == "mlops-jupyter" else known.get(key)
        if version is None:
            try:
                version = metadata.version(dist)
            except metadata.PackageNotFoundError:
                version = None
        lines.append(f"{dist}=={version}" if version else dist)
    return lines
