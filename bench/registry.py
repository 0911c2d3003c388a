"""Benchmark (#8): registering a model and moving an alias, beside MLflow's model registry.

Ours: ``mj.register_model`` (skops file, evaluation snapshot, model card, audit record) then
``mj.promote`` to an alias held by the previous version (metric gate, paired bootstrap with 1000
resamples, McNemar, drift, audit record). MLflow: ``mlflow.sklearn.log_model`` with
``registered_model_name`` then ``set_registered_model_alias`` (no gates, no significance test, no
audit chain). Same model (scaled logistic regression on breast_cancer), SQLite stores on local
disk, median of ``--repeat`` rounds. Also: the bootstrap alone on 10,000 rows, and
``audit verify`` over the records written.

    .venv/bin/python bench/registry.py [--repeat 5] [--no-peer]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peers import run_peer

MLFLOW = ["mlflow", "pandas<3"]

PEER = """
import json, sys, time, statistics, logging, warnings
warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)
import mlflow, mlflow.sklearn
from mlflow import MlflowClient
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
root, repeat = sys.argv[1], int(sys.argv[2])
mlflow.set_tracking_uri(f"sqlite:///{root}/mlflow.db")
mlflow.set_experiment("bench")
X, y = load_breast_cancer(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X_train, y_train)
client = MlflowClient()
times = []
for i in range(repeat + 1):
    t = time.perf_counter()
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(model, name="model", registered_model_name="bc")
    version = info.registered_model_version
    client.set_registered_model_alias("bc", "production", version)
    if i:
        times.append(time.perf_counter() - t)
print(json.dumps({"register_and_alias_s": statistics.median(times)}))
"""


def ours(root: Path, repeat: int) -> dict[str, float]:
    import numpy as np
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import mlops_jupyter as mj
    from mlops_jupyter.registry.stats import mcnemar, paired_bootstrap

    store = mj.open_store(root / "lineage.db")
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X_train, y_train)
    # a policy belongs to a registered model: register once before setting it (not timed)
    mj.register_model(model, "bc", eval_data=(X_test, y_test), train_data=X_train, store=store)
    mj.set_policy(
        "bc", metrics={"auc": ">= 0.9"}, compare={"margin": 0.05}, lineage=False, store=store
    )
    times, reg_times = [], []
    for i in range(repeat + 1):
        t = time.perf_counter()
        row = mj.register_model(
            model, "bc", eval_data=(X_test, y_test), train_data=X_train, store=store
        )
        t_reg = time.perf_counter() - t
        result = mj.promote("bc", row["version"], "production", store=store)
        assert result.moved, result.gates.to_string()
        if i:
            times.append(time.perf_counter() - t)
            reg_times.append(t_reg)
    rng = np.random.default_rng(0)
    n = 10_000
    truth = rng.integers(0, 2, n)
    a = np.where(rng.random(n) < 0.9, truth, 1 - truth)
    b = np.where(rng.random(n) < 0.88, truth, 1 - truth)
    t = time.perf_counter()
    paired_bootstrap("accuracy", truth, (a, None), (b, None), n_resamples=1000)
    mcnemar(truth, a, b)
    boot_s = time.perf_counter() - t
    t = time.perf_counter()
    report = mj.audit_verify(store=store)
    verify_s = time.perf_counter() - t
    assert report.ok
    return {
        "register_s": statistics.median(reg_times),
        "register_and_promote_s": statistics.median(times),
        "bootstrap_10k_rows_s": boot_s,
        "audit_verify_s": verify_s,
        "audit_records": report.n_records,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-peer", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "ours").mkdir()
        mine = ours(root / "ours", args.repeat)
        print(f"ours: register                          {mine['register_s'] * 1000:8.1f} ms")
        print(
            f"ours: register + promote (all gates)    {mine['register_and_promote_s'] * 1000:8.1f} ms"
        )
        print(
            f"ours: bootstrap 1000x + McNemar, 10k rows {mine['bootstrap_10k_rows_s'] * 1000:6.1f} ms"
        )
        print(
            f"ours: audit verify ({mine['audit_records']} records)        "
            f"{mine['audit_verify_s'] * 1000:8.1f} ms"
        )
        if args.no_peer:
            return
        (root / "mlflow").mkdir()
        peer = run_peer("mlflow", MLFLOW, PEER, str(root / "mlflow"), str(args.repeat))
        theirs = peer["register_and_alias_s"]
        print(f"mlflow: log_model + register + alias    {theirs * 1000:8.1f} ms (no gates)")
        ratio = theirs / mine["register_and_promote_s"]
        print(f"ratio mlflow / ours (register + alias move): {ratio:.2f}x")


if __name__ == "__main__":
    main()
