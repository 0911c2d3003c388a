"""New interpreters for the benches' first-call figures, started as a user's would be."""

from __future__ import annotations

from pathlib import Path


def cached_bytecode_env(env: dict[str, str], cache: Path) -> dict[str, str]:
    """``env`` for a new interpreter that keeps compiled bytecode (in ``cache``, not beside the
    sources), as an installed package has it: a first process fills it, the next ones load it.
    Without this, a machine with ``PYTHONDONTWRITEBYTECODE`` set (this one) would time each
    new process compiling every module it imports."""
    out = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    out["PYTHONPYCACHEPREFIX"] = str(cache)
    return out
