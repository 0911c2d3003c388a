"""Where the lineage store lives.

Precedence: an explicit argument > ``$MLOPS_JUPYTER_STORE`` > ``./.mlops/lineage.db`` under the
current working directory (the kernel's, in a notebook). Artifacts live beside the database in
``<store dir>/artifacts/<hash>``.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_STORE = "MLOPS_JUPYTER_STORE"
DEFAULT_DIR = ".mlops"
DEFAULT_FILE = "lineage.db"


def store_path(path: str | os.PathLike[str] | None = None) -> Path:
    """Resolve the store file's path (it need not exist yet)."""
    if path is not None and str(path) != "":
        return Path(path).expanduser().resolve()
    env = os.environ.get(ENV_STORE)
    if env:
        return Path(env).expanduser().resolve()
    return (Path.cwd() / DEFAULT_DIR / DEFAULT_FILE).resolve()


def artifacts_dir(db_path: Path) -> Path:
    return db_path.parent / "artifacts"


ENV_AUDIT_KEY = "MLOPS_JUPYTER_AUDIT_KEY"


def audit_key() -> bytes | None:
    """The audit trail's signing key (``$MLOPS_JUPYTER_AUDIT_KEY``), or None."""
    key = os.environ.get(ENV_AUDIT_KEY)
    return key.encode("utf-8") if key else None
