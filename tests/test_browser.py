"""The JupyterLab extension in a real browser: Debian's chromium driven by Playwright.

One ``jupyter lab`` (token on, throw-away config/data/runtime dirs) serves a store this module
prepares; each test drives the sidebar, the main-area views or a notebook. A failing test saves
a screenshot to ``test-artifacts/``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
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

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
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

if not Path(CHROMIUM).exists():  # pragma: no cover - CI installs it (make chromium)
    pytest.skip("chromium is not installed: run `make chromium`", allow_module_level=True)

expect: Any = pytest.importorskip("playwright.sync_api").expect


def _seed(path: Path) -> list[dict[str, Any]]:
    """Two finished runs of experiment 'churn': a dataset, a fit cell, params, a metric, a model."""
    from mlops_jupyter.store import open_store

    s = open_store(path, shared=False)
    runs = []
    try:
        s.record_dataset_content("f" * 32, kind="dataframe", n_rows=150, n_cols=5)
        for i, (c, acc) in enumerate([(0.1, 0.91), (1.0, 0.95)]):
            run = s.create_run("churn", name=f"run-{i + 1}")
            e = s.add_execution(
                run["id"],
                code="clf = LogisticRegression(C=C).fit(X, y)",
                code_hash="h",
                started_at=run["started_at"],
                duration_s=0.1,
                status="ok",
                execution_count=1,
                reads=["X", "y"],
                writes=["clf"],
            )
            s.log_params(run["id"], {"C": c}, execution_id=e)
            s.log_metrics(run["id"], [("accuracy", acc, None, None)], execution_id=e)
            s.record_dataset_version("iris", "f" * 32, run_id=run["id"], execution_id=e)
            s.record_model(
                f"{i}" * 32,
                class_name="LogisticRegression",
                name="clf",
                run_id=run["id"],
                execution_id=e,
            )
            s.add_edges(
                [
                    ("dataset", "f" * 32, "read", "execution", str(e)),
                    ("execution", str(e), "wrote", "model", f"{i}" * 32),
                ],
                run_id=run["id"],
                execution_id=e,
            )
            s.end_run(run["id"])
            runs.append(run)
    finally:
        s.close()
    return runs


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A running ``jupyter lab`` over a prepared store; stopped by its own process at the end."""
    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    root.mkdir()
    store = root / ".mlops" / "lineage.db"
    runs = _seed(store)
    env = dict(os.environ)
    for name in ("config", "data", "runtime"):
        env[f"JUPYTER_{name.upper()}_DIR"] = str(base / name)
    env["MLOPS_JUPYTER_STORE"] = str(store)
    settings = base / "config" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    token, port = secrets.token_hex(16), _free_port()
    log = (base / "lab.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
         f"--port={port}", f"--ServerApp.token={token}", f"--ServerApp.root_dir={root}",
         "--allow-root"],
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
        yield {"url": url, "token": token, "runs": runs, "root": root}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, lab: dict[str, Any], request: pytest.FixtureRequest) -> Iterator[Any]:
    """JupyterLab loaded with a fresh layout; screenshot to test-artifacts/ on failure."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    failed_before = request.session.testsfailed
    pg.goto(f"{lab['url']}/lab?reset&token={lab['token']}")
    pg.locator("#jupyterlab-splash").wait_for(state="detached")
    # the first load on 2 busy cores can take longer than expect's 5 s (a setup error in CI)
    expect(pg.locator(".jp-LauncherCard").first).to_be_visible(timeout=60_000)
    yield pg
    if request.session.testsfailed > failed_before:
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def _open_sidebar(page: Any) -> Any:
    page.locator('.jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id="mlops-jupyter:sidebar"]').click()
    sidebar = page.locator(".mlops-sidebar")
    expect(sidebar).to_be_visible()
    return sidebar


def test_sidebar_lists_the_stores_runs_models_and_datasets(page: Any, lab: dict[str, Any]) -> None:
    sidebar = _open_sidebar(page)
    rows = sidebar.locator("tr.mlops-run")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator(".mlops-run-name")).to_have_text("run-2")  # newest first
    expect(rows.nth(0)).to_contain_text("0.95")
    expect(sidebar.locator(".mlops-experiment-select")).to_have_value("churn")
    expect(sidebar.locator(".mlops-dataset")).to_contain_text("iris")
    expect(sidebar.locator(".mlops-models-section")).to_contain_text("2 captured models")
    # sorting by the metric, ascending on the first click of a metric header: worst first
    sidebar.locator('th[data-sort="metric:accuracy"]').click()
    sidebar.locator('th[data-sort="metric:accuracy"]').click()
    expect(rows.nth(0).locator(".mlops-run-name")).to_have_text("run-1")
    # another process writes to the store: the panel refreshes by itself
    from mlops_jupyter.store import open_store

    with open_store(lab["root"] / ".mlops" / "lineage.db", shared=False) as s:
        s.create_run("churn", name="run-3")
    expect(rows).to_have_count(3, timeout=15_000)


def test_selecting_two_runs_opens_their_comparison(page: Any, lab: dict[str, Any]) -> None:
    sidebar = _open_sidebar(page)
    for name in ("run-1", "run-2"):
        sidebar.locator("tr.mlops-run", has_text=name).locator("input[type=checkbox]").check()
    sidebar.locator(".mlops-compare-button").click()
    body = page.locator(".jp-MainAreaWidget .mlops-compare-body")
    # the first comparison imports the analysis stack in the server: seconds on a busy machine
    expect(body).to_be_visible(timeout=30_000)
    expect(body).to_contain_text("run-1")
    expect(body).to_contain_text("run-2")
    expect(body).to_contain_text("accuracy")


def test_lineage_view_of_a_run(page: Any, lab: dict[str, Any]) -> None:
    sidebar = _open_sidebar(page)
    sidebar.locator("tr.mlops-run", has_text="run-1").locator("input[type=checkbox]").check()
    sidebar.locator(".mlops-lineage-button").click()
    graph = page.locator(".mlops-lineage-graph")
    expect(graph).to_be_visible()
    expect(graph.locator(".mlops-node-dataset")).to_contain_text("iris v1")
    expect(graph.locator(".mlops-node-model")).to_contain_text("LogisticRegression")
    expect(graph.locator(".mlops-lineage-edge")).to_have_count(2)


def test_notebook_compare_panel_and_cell_badge(page: Any, lab: dict[str, Any]) -> None:
    page.locator('.jp-LauncherCard[data-category="Notebook"]').first.click()
    idle = re.compile(r"Python 3 \(ipykernel\) \| Idle")
    expect(page.locator(".jp-StatusBar-TextItem").filter(has_text=idle)).to_have_count(1)
    run1, run2 = (r["id"] for r in lab["runs"])
    cell = page.locator(".jp-NotebookPanel .jp-Cell").last
    cell.locator(".cm-content").click()
    page.keyboard.insert_text(f"%load_ext mlops_jupyter\n%mlops compare {run1} {run2}")
    page.keyboard.press("Shift+Enter")
    output = page.locator(".jp-NotebookPanel .jp-OutputArea-output").first
    expect(output).to_contain_text("run-2", timeout=60_000)
    expect(output).not_to_contain_text("Traceback")
    # the next cell fits a model and logs a metric: its badge says what was captured
    page.keyboard.insert_text(
        "from sklearn.datasets import load_iris\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "X, y = load_iris(return_X_y=True)\n"
        "clf = LogisticRegression(max_iter=300).fit(X, y)\n"
        "__import__('mlops_jupyter').log_metric('train_acc', clf.score(X, y))"
    )
    page.keyboard.press("Shift+Enter")
    badge = page.locator(".jp-NotebookPanel .jp-Cell .mlops-cell-badge")
    expect(badge.first).to_contain_text(re.compile(r"metrics? · model"), timeout=30_000)
    view = page.locator(".jp-MainAreaWidget .mlops-lineage").last
    for _ in range(3):  # a badge is redrawn when its cell's capture lands: click the new one
        badge.first.click()
        try:
            expect(view).to_be_visible(timeout=10_000)
            break
        except AssertionError:
            continue
    expect(view).to_be_visible()
