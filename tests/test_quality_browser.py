"""Data tests, tags and resources (#16) in a real JupyterLab and chromium: the late line and the
red badge of a failing check, the sidebar's tag filter and a run's resources."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .labserver import CHROMIUM, CHROMIUM_ARGS, running_lab, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CELLS = [
    "%load_ext mlops_jupyter\n%mlops experiment browser-quality",
    "import numpy as np, pandas as pd\n"
    "from sklearn.linear_model import LogisticRegression\n"
    "rng = np.random.default_rng(0)\n"
    "train = pd.DataFrame({'age': rng.integers(18, 90, 300), 'income': rng.normal(5e4, 1e4, 300)})\n"
    "train['label'] = (train.age > 50).astype(int)",
    "clf = LogisticRegression(max_iter=500).fit(train[['age', 'income']], train.label)",
    "%mlops tag train owner=risk pii=true\nother_df = pd.DataFrame({'n': [1, 2, 3]})",
    "train = train.assign(age=train.age + 500)",
]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[dict[str, Any]]:
    if not Path(CHROMIUM).exists():
        pytest.skip("needs /usr/bin/chromium (make chromium)")
    import nbformat

    root = tmp_path / "root"
    root.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, root / "quality.ipynb")
    env = {"MLOPS_JUPYTER_STORE": str(root / ".mlops" / "lineage.db")}
    with running_lab(tmp_path, root, env) as server:
        yield server


def test_a_failing_check_shows_a_line_a_red_badge_and_the_sidebar_filters_by_tag(
    lab: dict[str, Any],
) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        try:
            page.goto(f"{lab['url']}/lab/tree/quality.ipynb?reset&token={lab['token']}")
            page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=60_000)
            idle = page.locator(".jp-StatusBar-TextItem").filter(
                has_text=re.compile(r"Python 3 \(ipykernel\) \| Idle")
            )
            expect(idle).to_have_count(1, timeout=60_000)
            page.locator(".jp-Cell").first.click()
            page.keyboard.press("Escape")
            for _ in CELLS:
                page.keyboard.press("Shift+Enter")
            cells = page.locator(".jp-Notebook .jp-Cell")
            # the fit cell says it drafted the suite; the last cell's data fails it, late
            expect(cells.nth(2).locator(".mlops-drafted-line")).to_be_visible(timeout=60_000)
            line = cells.nth(4).locator(".mlops-check-line")
            expect(line).to_contain_text("Data tests failed: train@2", timeout=60_000)
            expect(line).to_have_count(1)
            badge = cells.nth(4).locator(".mlops-cell-badge")
            expect(badge).to_contain_text("data test", timeout=30_000)
            expect(badge).to_have_class(re.compile("mlops-cell-badge-failed"))
            assert "wall" in (badge.get_attribute("title") or "")
            # the sidebar: the tag filter keeps the PII dataset only
            page.locator(
                '.jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id="mlops-jupyter:sidebar"]'
            ).click()
            sidebar = page.locator(".mlops-sidebar")
            datasets = sidebar.locator(".mlops-datasets .mlops-dataset")
            expect(datasets.filter(has_text="other_df")).to_have_count(1, timeout=30_000)
            sidebar.locator(".mlops-tag-filter").fill("pii=true")
            sidebar.locator(".mlops-tag-filter").press("Enter")
            expect(datasets).to_have_count(1)
            expect(datasets.first).to_contain_text("train")
            expect(datasets.first).to_contain_text("owner=risk")
            # one run selected: what it cost
            sidebar.locator(".mlops-runs input[type=checkbox]").first.check()
            expect(sidebar.locator(".mlops-run-resources")).to_contain_text("cells · wall")
        except Exception:
            screenshot(page, "quality-browser")
            raise
        finally:
            browser.close()
