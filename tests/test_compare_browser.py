"""The comparison panel in a real JupyterLab and chromium: checkboxes line up with the rows,
ticking, filtering and "only differences" round-trip through the kernel."""

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

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
TOKEN = "compare-panel-test"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[str]:
    if (
        not Path(CHROMIUM).exists()
        or shutil.which("jupyter", path=str(Path(sys.executable).parent)) is None
    ):
        pytest.skip("needs /usr/bin/chromium and jupyter lab in the venv")
    import nbformat

    from mlops_jupyter.store import open_store

    root = tmp_path / "root"
    root.mkdir()
    db = root / ".mlops" / "lineage.db"
    store = open_store(db, shared=False)
    for i, (model, depth) in enumerate([("rf", 2), ("rf", 4), ("gb", 2), ("gb", 4)]):
        run = store.create_run("web", name=f"w{i}")["id"]
        store.log_params(run, {"model": model, "depth": depth, "lr": 0.1})
        store.log_metrics(run, [("auc", 0.6 + 0.05 * i + 0.01 * s, s, None) for s in range(3)])
    store.close()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("%load_ext mlops_jupyter\n%mlops compare --metric auc")]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, root / "cmp.ipynb")
    env = dict(os.environ, MLOPS_JUPYTER_STORE=str(db))
    for key, sub in (
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
    ):
        env[key] = str(tmp_path / sub)
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
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_panel_in_jupyterlab(lab: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.goto(f"{lab}/lab/tree/cmp.ipynb?reset&token={TOKEN}")
            page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=60_000)
            idle = page.locator(".jp-StatusBar-TextItem").filter(
                has_text=re.compile(r"Python 3 \(ipykernel\) \| Idle")
            )
            expect(idle).to_have_count(1, timeout=60_000)
            page.locator(".jp-Cell").first.click()
            page.keyboard.press("Escape")
            page.keyboard.press("Shift+Enter")
            table = page.locator(".jupyter-widgets .widget-hbox.mlops-compare table.mlops-runs")
            expect(table.locator("tbody tr")).to_have_count(4, timeout=60_000)
            rows = table.locator("tbody tr")
            boxes = page.locator(
                ".jupyter-widgets .widget-hbox.mlops-compare .widget-checkbox input"
            )
            expect(boxes).to_have_count(4)
            for i in range(4):  # each checkbox sits on its row
                row, box = rows.nth(i).bounding_box(), boxes.nth(i).bounding_box()
                assert row and box
                assert abs((row["y"] + row["height"] / 2) - (box["y"] + box["height"] / 2)) < 4
            expect(rows.first).to_contain_text("w3")  # best auc first

            best = page.locator(".jupyter-widgets .widget-tab").locator("text=best of")
            expect(best).to_contain_text("best of 4 runs")  # nothing ticked: every run
            boxes.nth(1).check()  # tick two runs other than the best: the Best tab follows
            boxes.nth(2).check()
            expect(best).to_contain_text("best of 2 runs")
            expect(page.locator(".jupyter-widgets .widget-tab .mlops-good").first).to_have_text(
                "w2"
            )

            header = table.locator("thead")
            expect(header.locator('th[title="params.lr"]')).to_have_count(0)  # equal: hidden
            expect(header.locator('th[title="params.model"]')).to_have_count(1)
            page.locator(".jupyter-widgets .widget-checkbox", has_text="only differences").locator(
                "input"
            ).uncheck()
            expect(header.locator('th[title="params.lr"]')).to_have_count(1)

            page.locator(".jupyter-widgets input[placeholder^='filter']").fill('model == "gb"')
            page.keyboard.press("Enter")
            expect(table.locator("tbody tr")).to_have_count(2)
            page.locator(".jupyter-widgets input[placeholder^='filter']").fill("nope > 1")
            page.keyboard.press("Enter")
            expect(page.locator(".jupyter-widgets").first).to_contain_text("No column 'nope'")
            expect(page.locator(".jp-OutputArea-output").first).not_to_contain_text("Traceback")
        finally:
            browser.close()
