"""The registry panel in a real JupyterLab and chromium: check gates, promote only when they pass."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
TOKEN = "registry-panel-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[dict[str, Any]]:
    if (
        not Path(CHROMIUM).exists()
        or shutil.which("jupyter", path=str(Path(sys.executable).parent)) is None
    ):
        pytest.skip("needs /usr/bin/chromium and jupyter lab in the venv")
    import nbformat
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.tree import DecisionTreeClassifier

    import mlops_jupyter as mj
    from mlops_jupyter.store import open_store

    root = tmp_path / "root"
    root.mkdir()
    db = root / ".mlops" / "lineage.db"
    store = open_store(db, shared=False)
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
    for model in (
        LogisticRegression(max_iter=3000).fit(X_train, y_train),
        DecisionTreeClassifier(max_depth=1).fit(X_train, y_train),
    ):
        mj.register_model(model, "bc", eval_data=(X_test, y_test), train_data=X_train, store=store)
    mj.set_policy("bc", lineage=False, store=store)
    mj.promote("bc", 1, "production", store=store)
    store.close()
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext mlops_jupyter"),
        nbformat.v4.new_code_cell("%mlops models bc"),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, root / "panel.ipynb")

    env = dict(os.environ)
    for key, sub in (
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
    ):
        env[key] = str(tmp_path / sub)
    env["MLOPS_JUPYTER_STORE"] = str(db)
    settings = tmp_path / "config" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}'
    )
    port = _free_port()
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "jupyter"),
            "lab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--ServerApp.token={TOKEN}",
            f"--ServerApp.root_dir={root}",
            "--allow-root",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("jupyter lab did not start")
                time.sleep(0.5)
        yield {"base": base, "db": db}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_panel_checks_gates_and_promotes_only_when_they_pass(lab: dict[str, Any]) -> None:
    from playwright.sync_api import expect, sync_playwright

    from mlops_jupyter.store import open_store

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{lab['base']}/lab/tree/panel.ipynb?reset&token={TOKEN}")
            page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=60_000)
            idle = page.locator(".jp-StatusBar-TextItem").filter(
                has_text=re.compile(r"Python 3 \(ipykernel\) \| Idle")
            )
            expect(idle).to_have_count(1, timeout=60_000)
            page.locator(".jp-Cell").first.click()
            page.keyboard.press("Escape")
            page.keyboard.press("Shift+Enter")
            page.keyboard.press("Shift+Enter")
            panel = page.locator(".mlops-panel.widget-vbox, .widget-vbox.mlops-panel").first
            expect(panel).to_be_visible(timeout=60_000)
            promote = panel.get_by_role("button", name="Promote")
            check = panel.get_by_role("button", name="Check gates")
            expect(promote).to_be_disabled()

            panel.locator(".widget-dropdown select").select_option(label="v2")
            check.click()
            output = panel.locator(".widget-html").last
            expect(output).to_contain_text("champion_vs_challenger", timeout=60_000)
            expect(output).to_contain_text("fail")
            expect(output.locator("img")).to_have_count(1)  # the bootstrap plot
            expect(promote).to_be_disabled()

            alias = panel.get_by_placeholder("alias, e.g. production")
            alias.fill("staging")
            alias.press("Enter")
            check.click()
            expect(output).to_contain_text("gates passed", timeout=60_000)
            expect(promote).to_be_enabled()
            promote.click()
            expect(output).to_contain_text("alias moved", timeout=60_000)
        finally:
            browser.close()
    store = open_store(lab["db"], shared=False)
    try:
        assert store.get_aliases("bc") == {"production": 1, "staging": 2}
    finally:
        store.close()
