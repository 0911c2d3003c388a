"""Where the lineage store lives, who writes to it, where its large artifacts go.

Precedence: an explicit argument > ``$MLOPS_JUPYTER_STORE`` > ``./.mlops/lineage.db`` under the
current working directory (the kernel's, in a notebook). A ``postgresql://`` URL (or
``postgres://``) selects the team store on a PostgreSQL server instead of a file.

Artifacts of a file store live beside the database in ``<store dir>/artifacts/<hash>``; a team
store keeps small ones in the database and large ones under ``$MLOPS_JUPYTER_ARTIFACTS`` (a
path every member can reach), when set.

The actor of every write is ``$MLOPS_JUPYTER_ACTOR`` when set, else the database user (team
store) or the operating-system user (file store).
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

ENV_STORE = "MLOPS_JUPYTER_STORE"
ENV_ARTIFACTS = "MLOPS_JUPYTER_ARTIFACTS"
ENV_ACTOR = "MLOPS_JUPYTER_ACTOR"
DEFAULT_DIR = ".mlops"
DEFAULT_FILE = "lineage.db"

_SERVER_URL = re.compile(r"^(postgresql|postgres)://", re.IGNORECASE)


def is_server_url(location: str | os.PathLike[str] | None) -> bool:
    """Whether ``location`` names a PostgreSQL team store rather than a file."""
    return location is not None and bool(_SERVER_URL.match(str(location)))


def store_location(path: str | os.PathLike[str] | None = None) -> Path | str:
    """The store chosen: a resolved file path, or a ``postgresql://`` URL (as given)."""
    chosen = path if path is not None and str(path) != "" else os.environ.get(ENV_STORE)
    if chosen and is_server_url(chosen):
        return str(chosen)
    return store_path(chosen)


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


def artifacts_root() -> Path | None:
    """``$MLOPS_JUPYTER_ARTIFACTS``: a shared folder for the artifacts of a team store."""
    root = os.environ.get(ENV_ARTIFACTS)
    return Path(root).expanduser().resolve() if root else None


def configured_actor() -> str | None:
    """``$MLOPS_JUPYTER_ACTOR``, the name written with every change (else None)."""
    actor = (os.environ.get(ENV_ACTOR) or "").strip()
    return actor or None


@functools.lru_cache(maxsize=1)
def os_user() -> str:
    """The operating-system user (looked up once: every stored row asks for it)."""
    import getpass

    try:
        return getpass.getuser()
    except Exception:
        return os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"


ENV_AUDIT_KEY = "MLOPS_JUPYTER_AUDIT_KEY"


def audit_key() -> bytes | None:
    """The audit trail's signing key (``$MLOPS_JUPYTER_AUDIT_KEY``), or None."""
    key = os.environ.get(ENV_AUDIT_KEY)
    return key.encode("utf-8") if key else None
