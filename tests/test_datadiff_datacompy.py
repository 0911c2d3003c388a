"""Cross-check (#5): our added/removed/changed counts equal datacompy's on the same pair.

datacompy pins pandas < 3.1, so it runs in its own virtualenv (``bench/.venv-datacompy``,
created from the package index on first use) through ``bench/_peers.py``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlops_jupyter.analysis.datadiff import diff

ROOT = Path(__file__).resolve().parent.parent
DATACOMPY = ["datacompy==1.1.0"]

PEER_CODE = """
import json, sys
import pandas as pd
import datacompy
a = pd.read_parquet(sys.argv[1]); b = pd.read_parquet(sys.argv[2])
out = []
for atol, rtol in json.loads(sys.argv[3]):
    c = datacompy.PandasCompare(a, b, join_columns=["id"], abs_tol=atol, rel_tol=rtol)
    out.append({"removed": len(c.df1_unq_rows), "added": len(c.df2_unq_rows),
                "changed": int(len(c.intersect_rows) - c.count_matching_rows())})
print(json.dumps(out))
"""


def _peers() -> Any:
    spec = importlib.util.spec_from_file_location("bench_peers", ROOT / "bench" / "_peers.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pair(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    a = pd.DataFrame(
        {
            "id": np.arange(n),
            "x": rng.normal(size=n),
            "y": rng.integers(0, 100, n),
            "s": rng.choice(np.array(["a", "b", "c"]), n),
        }
    )
    a.loc[rng.choice(n, n // 50, replace=False), "x"] = np.nan
    b = a.copy()
    rows = rng.choice(n, n // 20, replace=False)
    b.loc[rows[: len(rows) // 3], "x"] += rng.choice([1e-7, 0.3, 2.0], len(rows) // 3)
    b.loc[rows[len(rows) // 3 : 2 * len(rows) // 3], "y"] += 1
    b.loc[rows[2 * len(rows) // 3 :], "s"] = "z"
    b = b.drop(index=rng.choice(np.setdiff1d(np.arange(n), rows), n // 100, replace=False))
    extra = a.iloc[: n // 200].assign(id=np.arange(n, n + n // 200))
    return a, pd.concat([b, extra]).sample(frac=1.0, random_state=seed).reset_index(drop=True)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_counts_match_datacompy(tmp_path: Path) -> None:
    tolerances = [(0.0, 0.0), (1e-6, 0.0), (0.5, 0.0), (0.0, 0.05)]
    a, b = _pair(20_000, seed=7)
    a.to_parquet(tmp_path / "a.parquet")
    b.to_parquet(tmp_path / "b.parquet")
    import json

    theirs = _peers().run_peer(
        "datacompy",
        DATACOMPY,
        PEER_CODE,
        str(tmp_path / "a.parquet"),
        str(tmp_path / "b.parquet"),
        json.dumps(tolerances),
    )
    for (atol, rtol), expected in zip(tolerances, theirs):
        d = diff(a, b, key="id", atol=atol, rtol=rtol, store=False)
        ours = {k: d.summary[k] for k in ("removed", "added", "changed")}
        assert ours == expected, (atol, rtol)
    assert len({t["changed"] for t in theirs}) > 1  # the tolerances really mattered
