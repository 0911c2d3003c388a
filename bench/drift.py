"""Drift benchmark: mj.drift vs Evidently's DataDriftPreset on the same data, in the same run.

    .venv/bin/python bench/drift.py [--rows 1000,100000,1000000] [--peer-max-rows 1000000]

Data: reference and current of N rows each, 20 numeric + 5 categorical columns, seeded. The
current batch moves some columns on purpose (see SHIFTS) and leaves the others alone.
Prints, per size: our time, Evidently's time, the ratio, the HTML sizes, and which columns each
flags with every disagreement explained. Evidently 0.7 needs pandas < 3, so it runs in its own
virtualenv (bench/.venv-evidently, see bench/_peers.py) on the same parquet files.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers import run_peer

PEER = ["evidently==0.7.*", "pandas<3"]

# what the current batch changes (everything else is drawn from the reference's distribution)
SHIFTS = {
    "n0": "mean +0.3 sd",
    "n1": "sd x1.3",
    "n2": "mean +0.05 sd (small)",
    "n3": "lognormal, scale x1.2",
    "n4": "4 integer values, probabilities moved",
    "c0": "probabilities moved a lot",
    "c1": "probabilities moved a little",
    "c2": "a new category (5%)",
}

PEER_CODE = r"""
import json, sys, time, os
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset

ref = pd.read_parquet(sys.argv[1])
cur = pd.read_parquet(sys.argv[2])
html_path = sys.argv[3]
t0 = time.perf_counter()
snapshot = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
seconds = time.perf_counter() - t0
columns = {}
for metric in snapshot.dict()["metrics"]:
    config = metric["config"]
    if not config["type"].endswith("ValueDrift"):
        continue
    value = float(metric["value"])
    method = config["method"]
    threshold = float(config["threshold"])
    drifted = value < threshold if "p_value" in method else value >= threshold
    columns[config["column"]] = {"method": method, "value": value, "drifted": drifted}
html_bytes = None
if html_path != "-":
    snapshot.save_html(html_path)
    html_bytes = os.path.getsize(html_path)
print(json.dumps({"seconds": seconds, "columns": columns, "html_bytes": html_bytes}))
"""


def make_data(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)

    def one(shifted: bool) -> pd.DataFrame:
        cols: dict[str, np.ndarray] = {}
        cols["n0"] = rng.normal(0.3 if shifted else 0.0, 1.0, n)
        cols["n1"] = rng.normal(0.0, 1.3 if shifted else 1.0, n)
        cols["n2"] = rng.normal(0.05 if shifted else 0.0, 1.0, n)
        cols["n3"] = rng.lognormal(0.0, 0.8, n) * (1.2 if shifted else 1.0)
        p4 = [0.1, 0.2, 0.3, 0.4] if shifted else [0.4, 0.3, 0.2, 0.1]
        cols["n4"] = rng.choice(4, n, p=p4)
        for i in range(5, 20):
            if i % 3 == 0:
                cols[f"n{i}"] = rng.integers(0, 10, n)  # 10 distinct integers
            elif i % 3 == 1:
                cols[f"n{i}"] = rng.exponential(2.0, n)
            else:
                cols[f"n{i}"] = rng.normal(i, 2.0, n)
        base = ["a", "b", "c", "d", "e"]
        p0 = [0.05, 0.1, 0.15, 0.3, 0.4] if shifted else [0.4, 0.3, 0.15, 0.1, 0.05]
        cols["c0"] = rng.choice(base, n, p=p0)
        p1 = [0.22, 0.28, 0.2, 0.15, 0.15] if shifted else [0.2, 0.3, 0.2, 0.15, 0.15]
        cols["c1"] = rng.choice(base, n, p=p1)
        if shifted:
            cols["c2"] = rng.choice([*base, "new"], n, p=[0.19, 0.19, 0.19, 0.19, 0.19, 0.05])
        else:
            cols["c2"] = rng.choice(base, n)
        cols["c3"] = rng.choice(["x", "y"], n, p=[0.7, 0.3])
        cols["c4"] = rng.choice([f"k{i:02d}" for i in range(50)], n)
        return pd.DataFrame(cols)

    return one(False), one(True)


def explain(column: str, ours: dict, theirs: dict) -> str:
    if ours["test"] == "chisquare" and "chi" in theirs["method"]:
        return (
            "chi-square: ours is the two-sample homogeneity test; Evidently's goodness-of-fit "
            "test treats the reference proportions as exact and rejects more often on small "
            "samples"
        )
    if (ours["test"] in ("ks", "wasserstein") and "chi" in theirs["method"]) or (
        "Jensen" in theirs["method"] and ours["test"] != "jensenshannon"
    ):
        return "a different column type: Evidently read this column as categorical"
    if abs(ours["score"] - theirs["value"]) > 1e-6:
        return f"scores differ: ours {ours['score']:.6g} vs theirs {theirs['value']:.6g}"
    return "same score on both sides of the threshold (rounding)"


def bench(n: int, peer: bool, workdir: Path) -> None:
    import mlops_jupyter as mj

    ref, cur = make_data(n)
    ref_path, cur_path = workdir / f"ref-{n}.parquet", workdir / f"cur-{n}.parquet"
    ref.to_parquet(ref_path, index=False)
    cur.to_parquet(cur_path, index=False)

    mj.drift(ref.head(2000), cur.head(2000), save=False)  # warm imports (scipy, tqdm)
    t0 = time.perf_counter()
    report = mj.drift(ref, cur, save=False)
    ours_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    html = report.to_html()
    html_s = time.perf_counter() - t0
    store = mj.open_store(workdir / f"store-{n}.db", shared=False)
    t0 = time.perf_counter()
    mj.drift(ref, cur, store=store)
    saved_s = time.perf_counter() - t0
    store.close()

    print(f"\n== {n:,} rows x 25 columns (reference and current each) ==")
    print(
        f"ours      : {ours_s:7.2f} s   (+ HTML {html_s:.2f} s, {len(html.encode()) / 1e3:.0f} KB;"
        f" with save=True incl. fingerprints and reference profile: {saved_s:.2f} s)"
    )
    ours = {
        r["column"]: {
            "test": r["test"],
            "score": r["p_value"] if r["test"] in ("ks", "chisquare", "z") else r["statistic"],
            "drifted": bool(r["drifted"]),
        }
        for r in report.columns.to_dict("records")
    }
    flagged = sorted(c for c, o in ours.items() if o["drifted"])
    print(
        f"ours flags      ({len(flagged)}): {', '.join(flagged)}  -> dataset drift: {report.drifted}"
    )
    if not peer:
        print("evidently : not run at this size (see --peer-max-rows)")
        return
    html_path = str(workdir / f"evidently-{n}.html") if n <= 100_000 else "-"
    try:
        result = run_peer(
            "evidently", PEER, PEER_CODE, str(ref_path), str(cur_path), html_path, timeout=900
        )
    except Exception as exc:  # a timeout or a crash of the peer is a result too
        print(f"evidently : failed ({type(exc).__name__}: {str(exc)[:200]})")
        return
    theirs = result["columns"]
    size = f", HTML {result['html_bytes'] / 1e6:.1f} MB" if result["html_bytes"] else ""
    print(f"evidently : {result['seconds']:7.2f} s{size}")
    print(f"ratio     : {result['seconds'] / ours_s:7.1f}x faster")
    their_flags = sorted(c for c, t in theirs.items() if t["drifted"])
    print(f"evidently flags ({len(their_flags)}): {', '.join(their_flags)}")
    disagreements = [c for c in ours if c in theirs and ours[c]["drifted"] != theirs[c]["drifted"]]
    max_diff = max(
        abs(ours[c]["score"] - theirs[c]["value"])
        for c in ours
        if c in theirs and ours[c]["test"] != "chisquare"
    )
    print(f"largest score difference outside chi-square columns: {max_diff:.2e}")
    if not disagreements:
        print("disagreements: none")
    for c in disagreements:
        print(
            f"disagreement on {c} ({SHIFTS.get(c, 'unchanged')}): ours {ours[c]['test']}="
            f"{ours[c]['score']:.4g} drifted={ours[c]['drifted']}, evidently "
            f"{theirs[c]['method']}={theirs[c]['value']:.4g} drifted={theirs[c]['drifted']} -- "
            f"{explain(c, ours[c], theirs[c])}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1000,100000,1000000")
    parser.add_argument("--peer-max-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    print("shifted columns:", "; ".join(f"{k}: {v}" for k, v in SHIFTS.items()))
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(x) for x in args.rows.split(",")):
            bench(n, n <= args.peer_max_rows, Path(tmp))


if __name__ == "__main__":
    main()
