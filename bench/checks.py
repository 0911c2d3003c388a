"""Benchmark (#16): data tests on 1,000,000 rows x 25 columns (20 numeric, 5 categorical).

A suite is drafted from the profile of a 50,000-row sample, then a batch with a few bad rows is
checked by ``mj.check``'s engine (goal: under 2 s) and by pandera validating the same rules
(``suite.to_pandera()``, ``lazy=True`` so every failure is collected, as ours does), in the same
run. Prints both times, the ratio, and whether both flag the same columns.

    .venv/bin/python bench/checks.py [--rows N] [--repeat K]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd


def make(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cols: dict[str, object] = {}
    for i in range(20):
        if i % 4 == 0:
            cols[f"count{i}"] = rng.integers(0, 100, n)
        else:
            cols[f"x{i}"] = rng.normal(i, 1 + i, n)
    for i in range(5):
        cols[f"c{i}"] = pd.Series(rng.choice(["red", "green", "blue", "cyan"], n))
    return pd.DataFrame(cols)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from mlops_jupyter.analysis.checks import check_frame
    from mlops_jupyter.analysis.expectations import Suite, draft_rules
    from mlops_jupyter.capture.profile import profile

    sample = make(50_000)
    rules = draft_rules(
        profile(sample), {c: str(t) for c, t in sample.dtypes.items()}, args.rows, "dataframe"
    )
    suite = Suite("batch", 1, "accepted", tuple(rules))
    batch = make(args.rows, seed=1)
    batch.loc[10, "x1"] = 1e6
    batch.loc[20, "c0"] = "purple"
    batch.loc[30, "count0"] = -5
    print(f"{args.rows:,} rows x {batch.shape[1]} columns, {len(rules)} rules")

    ours = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        result = check_frame(batch, suite)
        ours.append(time.perf_counter() - t)
    ours_cols = {r.split(":")[0] for r in result.failed["id"]}
    print(
        f"mlops-jupyter check: {min(ours):.3f} s (best of {args.repeat}; goal < 2 s), "
        f"failed rules: {sorted(result.failed['id'])}"
    )

    import pandera
    from pandera.errors import SchemaErrors

    schema = suite.to_pandera()
    theirs = []
    pandera_cols: set[str] = set()
    for _ in range(args.repeat):
        t = time.perf_counter()
        try:
            schema.validate(batch, lazy=True)
        except SchemaErrors as exc:
            pandera_cols = set(exc.failure_cases["column"].dropna().astype(str))
        theirs.append(time.perf_counter() - t)
    print(f"pandera {pandera.__version__} validate(lazy=True): {min(theirs):.3f} s")
    print(f"ratio pandera / ours: {min(theirs) / min(ours):.1f}x")
    same = ours_cols == pandera_cols
    print(
        f"same columns flagged: {same} (ours {sorted(ours_cols)}, pandera {sorted(pandera_cols)})"
    )
    if min(ours) >= 2.0:
        raise SystemExit("mlops-jupyter check took 2 s or more")


if __name__ == "__main__":
    main()
