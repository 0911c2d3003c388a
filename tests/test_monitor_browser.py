"""The monitoring view (#17) in a real JupyterLab and chromium: a model's *monitoring* link in the
sidebar opens its batches over time in the main area."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from .labserver import CHROMIUM, CHROMIUM_ARGS, running_lab, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _batch(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    X["a"] += shift
    return X.assign(y=(X.a - shift + X.b > 0).astype(int))


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[dict[str, Any]]:
    if not Path(CHROMIUM).exists():
        pytest.skip("needs /usr/bin/chromium (make chromium)")
    from sklearn.linear_model import LogisticRegression

    import mlops_jupyter as mj
    from mlops_jupyter.store import open_store

    root = tmp_path / "root"
    root.mkdir()
    db = root / ".mlops" / "lineage.db"
    store = open_store(db, shared=False)
    train = _batch(1000, 0)
    model = LogisticRegression().fit(train[["a", "b", "c"]], train.y)
    mj.register_model(
        model, "shop", eval_data=(train[["a", "b", "c"]], train.y), train_data=train, store=store
    )
    mj.promote("shop", 1, "production", reason="first", force=True, store=store)
    for seed, shift in ((1, 0.0), (2, 0.0), (3, 2.0)):
        mj.monitor("shop", _batch(500, seed, shift), labels="y", store=store, name=f"week{seed}")
    store.close()
    with running_lab(tmp_path, root, {"MLOPS_JUPYTER_STORE": str(db)}) as server:
        yield server


def test_the_sidebar_opens_a_models_monitoring_view(lab: dict[str, Any]) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        try:
            page.goto(f"{lab['url']}/lab?reset&token={lab['token']}")
            page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=60_000)
            page.locator(
                '.jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id="mlops-jupyter:sidebar"]'
            ).click()
            sidebar = page.locator(".mlops-sidebar")
            model = sidebar.locator('.mlops-model[data-model="shop"]')
            expect(model).to_be_visible(timeout=30_000)
            model.locator(".mlops-model-head").click()
            model.locator(".mlops-monitoring-link").click()
            view = page.locator(".jp-MainAreaWidget .mlops-view-body")
            expect(view).to_contain_text("Monitoring of shop", timeout=30_000)
            expect(view).to_contain_text("3 batches")
            expect(view.locator("svg")).to_have_count(2)
            expect(view.locator("td", has_text="action_needed")).to_have_count(1)
            expect(view).to_contain_text("week3")
        except Exception:
            screenshot(page, "monitor-browser")
            raise
        finally:
            browser.close()
