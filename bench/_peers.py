"""Peers (MLflow, Evidently, datacompy) for benchmarks only, each in its own virtualenv.

Peers pin versions that clash with ours (Evidently 0.7 needs pandas < 3), so each gets
``bench/.venv-<name>`` and is driven through a subprocess that prints JSON. Nothing here is a
runtime dependency of mlops-jupyter.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import venv
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def peer_python(name: str, requirements: list[str]) -> Path:
    """The python of ``bench/.venv-<name>``, created and filled on first use."""
    env_dir = HERE / f".venv-{name}"
    python = env_dir / "bin" / "python"
    stamp = env_dir / ".installed"
    wanted = "\n".join(requirements)
    if not (stamp.exists() and stamp.read_text() == wanted):
        print(f"[bench] installing {name} peer into {env_dir} ...", file=sys.stderr, flush=True)
        venv.create(env_dir, with_pip=True, clear=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *requirements],
            check=True,
        )
        stamp.write_text(wanted)
    return python


def run_peer(
    name: str, requirements: list[str], code: str, *args: str, timeout: float = 3600
) -> Any:
    """Run ``code`` in the peer's venv; its last stdout line must be JSON, which is returned."""
    python = peer_python(name, requirements)
    proc = subprocess.run(
        [str(python), "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{name} peer failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
