"""A real ``jupyter lab`` for browser tests: token on, throw-away config/data/runtime dirs, a free
port, the news toast off; stopped by its own process. Also Debian chromium's launch arguments."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_lab(base: Path, root: Path, env: dict[str, str]) -> Iterator[dict[str, Any]]:
    """``jupyter lab`` serving ``root``; yields ``{"url", "token", "root"}``."""
    env = {**os.environ, **env}
    for name in ("config", "data", "runtime"):
        env[f"JUPYTER_{name.upper()}_DIR"] = str(base / name)
    settings = base / "config" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    token, port = secrets.token_hex(16), free_port()
    log = (base / "lab.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
         f"--port={port}", f"--ServerApp.token={token}", f"--ServerApp.root_dir={root}",
         "--LabApp.expose_app_in_browser=True", "--allow-root"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((base / "lab.log").read_text()[-3000:]) from None
                time.sleep(0.3)
        yield {"url": url, "token": token, "root": root}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def shut_down_kernels(lab: dict[str, Any]) -> None:
    """Stop every kernel of the server (as after a restart of the machine)."""
    base = f"{lab['url']}/api/kernels?token={lab['token']}"
    with urllib.request.urlopen(base, timeout=10) as reply:
        kernels = json.loads(reply.read())
    for kernel in kernels:
        request = urllib.request.Request(
            f"{lab['url']}/api/kernels/{kernel['id']}?token={lab['token']}", method="DELETE"
        )
        urllib.request.urlopen(request, timeout=10).close()


def screenshot(target: Any, name: str) -> Path:
    """Save a screenshot of a page or locator to test-artifacts/NAME.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    target.screenshot(path=str(path))
    return path
