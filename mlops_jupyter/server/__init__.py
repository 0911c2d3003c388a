"""The jupyter_server extension: a read-only REST API over the lineage store.

The store is ``$MLOPS_JUPYTER_STORE`` if set, else ``<server root_dir>/.mlops/lineage.db``; a
server setting overrides both: ``c.ServerApp.tornado_settings = {"mlops_jupyter_store": PATH}``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from jupyter_server.utils import url_path_join

from ..config import DEFAULT_DIR, DEFAULT_FILE, ENV_STORE
from .handlers import SETTINGS_KEY
from .routes import PREFIX, ROUTES


def resolve_store_path(server_app: Any) -> Path | str:
    """The store the API reads: a file, or a team store's ``postgresql://`` URL."""
    from ..config import is_server_url

    configured = server_app.web_app.settings.get(SETTINGS_KEY) or os.environ.get(ENV_STORE)
    if configured and is_server_url(configured):
        return str(configured)
    if configured:
        return Path(configured).expanduser().resolve()
    return (Path(server_app.root_dir).expanduser() / DEFAULT_DIR / DEFAULT_FILE).resolve()


def load_jupyter_server_extension(server_app: Any) -> None:
    web_app = server_app.web_app
    path = resolve_store_path(server_app)
    web_app.settings[SETTINGS_KEY] = str(path)
    base = url_path_join(web_app.settings["base_url"], PREFIX)
    web_app.add_handlers(".*$", [(url_path_join(base, pattern), cls) for pattern, cls in ROUTES])
    from ..store.pg import masked_url

    server_app.log.info("mlops-jupyter: REST API at %s over %s", base, masked_url(str(path)))
