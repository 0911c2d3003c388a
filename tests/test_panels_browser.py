"""The panels as a person sees them: real JupyterLab, Debian's chromium through Playwright.

The example notebooks share one folder and one store. Every notebook but the quick start is
executed headlessly first (no widget state saved, as on a colleague's machine); the quick start
runs in the browser. Then: its comparison fits 1600 px, every tab draws, a notebook reopened
without its kernel shows each panel's static form, the lineage view draws an arrow per edge
and no overlapping boxes, and the sidebar fits its width. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import EXAMPLES, execute_notebook
from .labserver import CHROMIUM, CHROMIUM_ARGS, running_lab, screenshot, shut_down_kernels

pytestmark = [pytest.mark.browser, pytest.mark.slow]

if not Path(CHROMIUM).exists():  # pragma: no cover - CI installs it (make chromium)
    pytest.skip("chromium is not installed: run `make chromium`", allow_module_level=True)

expect: Any = pytest.importorskip("playwright.sync_api").expect
IDLE = re.compile(r"Python 3 \(ipykernel\) \| Idle")
HEADLESS = ("compare", "drift", "registry")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("panels")
    root = base / "root"
    shutil.copytree(EXAMPLES, root, ignore=shutil.ignore_patterns(".mlops", ".ipynb_checkpoints"))
    store = root / ".mlops" / "lineage.db"
    env = {"MLOPS_JUPYTER_STORE": str(store)}
    import nbformat
    from nbformat.sign import NotebookNotary

    (base / "data").mkdir()
    notary = NotebookNotary(data_dir=str(base / "data"))  # the lab's: these are our notebooks
    for name in HEADLESS:
        nb = execute_notebook(root / f"{name}.ipynb", root, env=env)
        notary.sign(nb)
        nbformat.write(nb, root / f"{name}.ipynb")
    with running_lab(base, root, env) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def page(browser: Any, lab: dict[str, Any]) -> Iterator[Any]:
    """One page for the module: the tests follow each other like a person's session."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    context.close()


def _open(page: Any, lab: dict[str, Any], path: str) -> None:
    page.goto(f"{lab['url']}/lab/tree/{path}?reset&token={lab['token']}")
    page.locator("#jupyterlab-splash").wait_for(state="detached", timeout=60_000)
    expect(page.locator(".jp-StatusBar-TextItem").filter(has_text=IDLE)).to_have_count(
        1, timeout=60_000
    )


def _command(page: Any, command: str) -> None:
    page.evaluate(f"window.jupyterapp.commands.execute({command!r})")


def _panel(page: Any) -> Any:
    return page.locator(".jp-NotebookPanel .mlops-compare-panel").last


def test_quickstart_comparison_fits_1600px_and_every_tab_draws(page, lab) -> None:
    _open(page, lab, "quickstart.ipynb")
    _command(page, "notebook:run-all-cells")
    panel = _panel(page)
    table = panel.locator(".widget-hbox.mlops-compare table.mlops-runs")
    expect(table.locator("tbody tr")).to_have_count(2, timeout=120_000)
    panel.scroll_into_view_if_needed()
    expect(page.locator(".jp-StatusBar-TextItem").filter(has_text=IDLE)).to_have_count(
        1, timeout=60_000
    )
    heads = table.locator("thead tr").nth(1).locator("th")
    titles = [heads.nth(i).get_attribute("title") or "run" for i in range(heads.count())]
    assert "params.n_estimators" in titles  # the one param that differs
    metrics = [t for t in titles if t.startswith("metrics.")]
    assert "metrics.accuracy" in metrics and len(metrics) >= 3, titles
    scroller = panel.locator(".widget-hbox.mlops-compare .mlops-scroll")
    box = scroller.bounding_box()
    assert box and box["x"] + box["width"] <= 1600
    width = scroller.evaluate("el => [el.scrollWidth, el.clientWidth]")
    assert width[0] <= width[1] + 1, f"the table scrolls horizontally: {width}"
    for name in ["params.n_estimators", *metrics]:  # every metric and the differing param
        cell = heads.nth(titles.index(name)).bounding_box()
        assert cell and cell["x"] + cell["width"] <= box["x"] + box["width"], name
    # checkboxes stay with their rows
    rows = table.locator("tbody tr")
    checks = panel.locator(".widget-hbox.mlops-compare .widget-checkbox input")
    for i in range(2):
        r, c = rows.nth(i).bounding_box(), checks.nth(i).bounding_box()
        assert r and c and abs((r["y"] + r["height"] / 2) - (c["y"] + c["height"] / 2)) < 4
    assert panel.locator("td.mlops-best").count() >= 3  # the best value of each metric
    screenshot(panel, "compare-table")
    tabs = panel.locator(".lm-TabBar-tab")
    for i, name in enumerate(
        ["Best", "Curves", "Scatter", "Parallel", "Groups", "At step", "Diff"]
    ):
        tabs.nth(i).click()
        content = panel.locator(".widget-tab-contents > .widget-box").nth(i)
        drawn = content.locator("img, table")
        expect(drawn.first).to_be_visible(timeout=30_000)
        expect(content).not_to_contain_text("Error")
        if name in ("Curves", "Scatter", "Parallel"):
            size = drawn.first.evaluate("img => [img.naturalWidth, img.clientWidth]")
            assert size[0] >= 1.9 * size[1] > 0, f"{name} is not HiDPI: {size}"
        screenshot(panel, f"compare-tab-{name.lower().replace(' ', '-')}")
    # Diff: the parent (baseline) against the child; the changed param and the cell that set it
    diff = panel.locator(".widget-tab-contents > .widget-box").nth(6)
    expect(diff).to_contain_text("b is a child of a")
    expect(diff).to_contain_text("n_estimators")
    # the child's n_estimators cell is paired with the parent's params cell, not with imports
    expect(diff).to_contain_text("-n_estimators = 50")
    expect(diff).to_contain_text("+n_estimators = 100")
    expect(page.locator(".jp-NotebookPanel")).not_to_contain_text("Traceback")
    _command(page, "docmanager:save")
    expect(page.locator(".jp-mod-dirty")).to_have_count(0, timeout=20_000)


@pytest.mark.parametrize(
    ("notebook", "expected"),
    [
        ("quickstart.ipynb", "Comparison of 2 runs"),
        ("compare.ipynb", "Comparison of"),
        ("registry.ipynb", "Model breast-cancer"),
    ],
)
def test_reopened_without_its_kernel_shows_the_static_forms(page, lab, notebook, expected) -> None:
    shut_down_kernels(lab)
    _open(page, lab, notebook)
    outputs = page.locator(".jp-NotebookPanel .mlops-panel-output")
    expect(outputs.first).to_have_attribute("data-mlops-form", "static", timeout=30_000)
    forms = [outputs.nth(i).get_attribute("data-mlops-form") for i in range(outputs.count())]
    assert forms and set(forms) == {"static"}, forms
    expect(page.locator(".jp-NotebookPanel")).to_contain_text(expected)
    expect(page.locator(".jp-NotebookPanel")).not_to_contain_text("Error displaying widget")
    target = outputs.last
    target.scroll_into_view_if_needed()
    screenshot(target, f"static-{notebook.removesuffix('.ipynb')}")
    if notebook == "compare.ipynb":  # the drift-free panels are plain HTML: status, diff
        expect(page.locator(".jp-NotebookPanel")).to_contain_text("Diff of runs")


def test_drift_history_has_axes(page, lab) -> None:
    _open(page, lab, "drift.ipynb")
    history = page.locator(".jp-OutputArea-output", has_text="Drift history").first
    expect(history).to_contain_text("drifted columns")
    expect(history.locator("svg text", has_text="100%").first).to_be_attached()
    history.scroll_into_view_if_needed()
    screenshot(history, "drift-history")
    expect(page.locator(".jp-NotebookPanel")).not_to_contain_text("Error displaying widget")


def _sidebar(page: Any) -> Any:
    sidebar = page.locator(".mlops-sidebar")
    if not sidebar.is_visible():  # the tab toggles the panel
        page.locator(
            '.jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id="mlops-jupyter:sidebar"]'
        ).click()
    expect(sidebar).to_be_visible()
    return sidebar


def test_sidebar_fits_and_its_rows_open_views(page, lab) -> None:
    page.goto(f"{lab['url']}/lab?reset&token={lab['token']}")
    page.locator("#jupyterlab-splash").wait_for(state="detached", timeout=60_000)
    sidebar = _sidebar(page)
    sidebar.locator(".mlops-experiment-select").select_option("quickstart")
    expect(sidebar.locator("tr.mlops-run").nth(1)).to_be_visible()  # parent, child, sweep
    expect(sidebar.locator(".mlops-store")).not_to_have_text(re.compile(r"/$"))
    overflow = sidebar.evaluate("el => el.scrollWidth - el.clientWidth")
    assert overflow <= 1, f"the sidebar scrolls sideways by {overflow}px"
    expect(sidebar.locator(".mlops-drift-section")).not_to_contain_text("`")
    sidebar.locator(".mlops-model-head", has_text="breast-cancer").click()
    link = sidebar.locator(".mlops-version .mlops-link").first
    expect(link).to_be_visible()
    box, bar = link.bounding_box(), sidebar.bounding_box()
    assert box and bar and box["x"] + box["width"] <= bar["x"] + bar["width"]
    screenshot(sidebar, "sidebar")
    dataset = sidebar.locator(".mlops-dataset").first
    name = dataset.get_attribute("data-dataset")
    dataset.click()
    view = page.locator(".jp-MainAreaWidget .mlops-view-body").last
    expect(view).to_contain_text(f"Dataset {name}")
    expect(view).to_contain_text("Profile of v")
    sidebar.locator(".mlops-drift-report").first.click()
    expect(page.locator(".jp-MainAreaWidget .mlops-view-body").last).to_contain_text(
        "columns drifted"
    )


def test_lineage_view_is_a_readable_dag(page, lab) -> None:
    sidebar = _sidebar(page)
    sidebar.locator(".mlops-experiment-select").select_option("quickstart")
    run = sidebar.locator("tr.mlops-run").last  # the parent run: data, cells, model, metrics
    run.locator("input[type=checkbox]").check()
    sidebar.locator(".mlops-lineage-button").click()
    graph = page.locator(".mlops-lineage-graph").last
    expect(graph).to_be_visible()
    edges = graph.locator("path.mlops-lineage-edge")
    assert edges.count() >= 5
    assert all(
        edges.nth(i).get_attribute("marker-end") == "url(#mlops-arrow)"
        for i in range(edges.count())
    )
    assert graph.locator("text.mlops-lineage-label").count() == edges.count()
    expect(graph.locator(".mlops-node-metric").first).to_be_attached()
    boxes = graph.locator("g.mlops-lineage-node rect")
    rects = [boxes.nth(i).bounding_box() for i in range(boxes.count())]
    for i, a in enumerate(rects):
        for b in rects[i + 1 :]:
            assert a and b
            apart = (
                a["x"] + a["width"] <= b["x"]
                or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"]
                or b["y"] + b["height"] <= a["y"]
            )
            assert apart, (a, b)
    xs = {
        t: [
            graph.locator(f"g.mlops-node-{t} rect").nth(i).bounding_box()["x"]
            for i in range(graph.locator(f"g.mlops-node-{t}").count())
        ]
        for t in ("dataset", "metric")
    }
    assert min(xs["metric"]) > min(xs["dataset"])  # left to right: data first, metrics last
    screenshot(page.locator(".jp-MainAreaWidget .mlops-lineage").last, "lineage")
