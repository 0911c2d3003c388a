"""A throw-away PostgreSQL server for the tests and benches: real, local, stopped at the end.

``start()`` runs ``initdb`` in a temporary folder (as the unprivileged ``postgres`` user when we
are root: initdb refuses root), starts the server on a free local port with its socket in that
folder, and creates one database. ``stop()`` stops it and removes the folder. Set
``MLOPS_JUPYTER_TEST_PG=postgresql://...`` to use a server of your own instead.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

ENV = "MLOPS_JUPYTER_TEST_PG"
USER = "mj"
DATABASE = "mj"
# A role that must give its password (the rest of the server trusts local connections), so the
# tests see what wrong credentials look like.
PASSWORD_USER, PASSWORD = "mj_pw", "right-password"


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if found:
        return Path(found[0]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str  # postgresql://mj@127.0.0.1:PORT/mj
    folder: Path | None  # None: a server we did not start
    bindir: Path | None
    as_user: str | None

    def store_url(self, schema: str | None = None) -> str:
        """A URL naming a fresh schema: a new, empty store on this server."""
        schema = schema or f"t_{uuid.uuid4().hex[:12]}"
        return f"{self.url}?schema={schema}"

    def drop(self, url: str) -> None:
        """Remove the store (its schema) a test made."""
        import psycopg

        from mlops_jupyter.store.pg import split_url

        libpq, schema = split_url(url)
        with psycopg.connect(libpq, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")

    def stop(self) -> None:
        if self.folder is None or self.bindir is None:
            return
        _run(self, [str(self.bindir / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "fast",
                    "-w", "stop"])  # fmt: skip
        shutil.rmtree(self.folder, ignore_errors=True)


def _run(server: Server, args: list[str]) -> None:
    if server.as_user:
        args = ["runuser", "-u", server.as_user, "--", *args]
    subprocess.run(args, check=True, capture_output=True, timeout=120)


def start(*, durable: bool = False) -> Server:
    given = os.environ.get(ENV)
    if given:
        return Server(given, None, None, None)
    bindir = _bindir()
    if bindir is None:
        raise RuntimeError(
            "PostgreSQL is not installed, and the tests need a real server. Install it with "
            "apt-get install -y postgresql (make test does), or set "
            f"{ENV}=postgresql://USER@HOST:PORT/DB."
        )
    as_user = "postgres" if os.geteuid() == 0 else None
    folder = Path(tempfile.mkdtemp(prefix="mj-pg-"))
    if as_user:
        shutil.chown(folder, user=as_user)
    server = Server("", folder, bindir, as_user)
    port = _free_port()
    _run(server, [str(bindir / "initdb"), "-D", str(folder / "data"), "-A", "trust", "-U", USER,
                  "-E", "UTF8", "--no-sync"])  # fmt: skip
    hba = folder / "data" / "pg_hba.conf"
    hba.write_text(
        f"host all {PASSWORD_USER} 127.0.0.1/32 scram-sha-256\n" + hba.read_text()
    )  # read top down: this line first
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections=200"
    if not durable:  # a throw-away server for tests: durability buys nothing there
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    _run(server, [str(bindir / "pg_ctl"), "-D", str(folder / "data"), "-o", options, "-l",
                  str(folder / "log"), "-w", "start"])  # fmt: skip
    _run(server, [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", USER,
                  DATABASE])  # fmt: skip
    server.url = f"postgresql://{USER}@127.0.0.1:{port}/{DATABASE}"
    import psycopg

    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {PASSWORD_USER} LOGIN PASSWORD '{PASSWORD}'")
        conn.execute(f"GRANT ALL ON DATABASE {DATABASE} TO {PASSWORD_USER}")
    return server
