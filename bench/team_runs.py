"""Benchmark (#15): ``mj.runs()`` and the compare table at 10,000 and 100,000 runs, on the
PostgreSQL team store beside the SQLite file, in the same run.

Each store gets the same runs (``--params`` params and ``--metrics`` metrics each, finished):
written into the SQLite file through the store's own methods in one transaction, then pushed
into the team store (``copy_store``, what ``mlops-jupyter push`` runs); neither is timed. Then, per store and
size: the first ``mj.compare`` (which folds the new runs into the per-run summaries, once),
the warm ``mj.compare`` table and ``mj.runs()`` (medians of ``--repeat`` calls), and a check
that both backends return the same values. The PostgreSQL server is local (tests/pgserver.py,
durable: fsync on), so the figures are the database's and the code's, not a network's.

With ``--peer`` MLflow (in its own virtualenv, ``bench/.venv-mlflow-pg``) gets the same runs
(``log_batch``, one call per run, not timed) in a database of the same PostgreSQL server, and
``mlflow.search_runs`` of the experiment is timed beside ``mj.runs()`` (medians of
``--repeat`` calls, after one warm call), with a check that both return the same values.

    .venv/bin/python bench/team_runs.py [--sizes 10000,100000] [--repeat 3] [--peer]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from compare import timed  # noqa: E402  (bench/compare.py: median of warm calls)

import mlops_jupyter as mj  # noqa: E402
from mlops_jupyter.capture import session as session_mod  # noqa: E402
from mlops_jupyter.store import open_store  # noqa: E402
from mlops_jupyter.store.transfer import copy_store  # noqa: E402
from tests import pgserver  # noqa: E402


def populate(store: Any, experiment: str, n: int, n_params: int, n_metrics: int) -> None:
    with store.write():
        for i in range(n):
            run_id = store.create_run(experiment, name=f"run-{i}")["id"]
            store.log_params(
                run_id,
                {f"p{j}": ("rf", "gb", "lr")[(i + j) % 3] if j % 4 == 0 else (i * 7 + j) % 50
                 for j in range(n_params)},
            )  # fmt: skip
            store.log_metrics(
                run_id, [(f"m{k}", ((i * 31 + k * 17) % 1000) / 1000.0, 0, None)
                         for k in range(n_metrics)]
            )  # fmt: skip
            store.end_run(run_id)


PEER = ["mlflow", "pandas<3", "psycopg2-binary"]
PEER_CODE = """
import json, statistics, sys, time, warnings, logging
warnings.filterwarnings("ignore"); logging.disable(logging.WARNING)
import mlflow
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

uri, n, n_params, n_metrics, repeat = sys.argv[1], *map(int, sys.argv[2:6])
mlflow.set_tracking_uri(uri)
client = MlflowClient()
exp = client.create_experiment(f"exp{n}")
now = int(time.time() * 1000)
for i in range(n):
    run = client.create_run(exp, run_name=f"run-{i}")
    params = [Param(f"p{j}", str(("rf", "gb", "lr")[(i + j) % 3] if j % 4 == 0 else (i * 7 + j) % 50))
              for j in range(n_params)]
    metrics = [Metric(f"m{k}", ((i * 31 + k * 17) % 1000) / 1000.0, now, 0) for k in range(n_metrics)]
    client.log_batch(run.info.run_id, metrics=metrics, params=params)
    client.set_terminated(run.info.run_id)
times = []
for _ in range(repeat + 1):  # the first call warms caches and imports; not counted
    start = time.perf_counter()
    frame = mlflow.search_runs(experiment_ids=[exp], max_results=200000)
    times.append(time.perf_counter() - start)
print(json.dumps({"seconds": statistics.median(times[1:]), "rows": len(frame),
                  "check": round(float(frame["metrics.m3"].sum()), 6),
                  "version": mlflow.__version__}))
"""


def mlflow_on(server: Any, n: int, args: Any) -> dict[str, Any]:
    """MLflow's ``search_runs`` on a database of the same server, filled with the same runs."""
    import psycopg
    from _peers import run_peer

    name = f"mlflow_{n}"
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    uri = server.url.replace("postgresql://", "postgresql+psycopg2://").rsplit("/", 1)[0]
    return run_peer(
        "mlflow-pg", PEER, PEER_CODE, f"{uri}/{name}", str(n), str(args.params),
        str(args.metrics), str(args.repeat),
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--params", type=int, default=10)
    parser.add_argument("--metrics", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--peer", action="store_true", help="MLflow on the same server too.")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    server = pgserver.start(durable=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            stores = {
                "SQLite    ": open_store(Path(tmp) / "lineage.db", shared=False),
                "PostgreSQL": open_store(server.store_url("bench_runs"), shared=False),
            }
            for n in sizes:
                print(f"\n{n} runs x {args.params} params x {args.metrics} metrics:")
                checks = {}
                start = time.perf_counter()
                populate(stores["SQLite    "], f"exp{n}", n, args.params, args.metrics)
                filled = {"SQLite    ": time.perf_counter() - start}
                start = time.perf_counter()  # the team store gets the same runs by a push
                copy_store(stores["SQLite    "], stores["PostgreSQL"], experiments=[f"exp{n}"])
                filled["PostgreSQL"] = time.perf_counter() - start
                for name, store in stores.items():
                    start = time.perf_counter()
                    mj.compare(experiment=f"exp{n}", metric="m0", store=store)
                    first = time.perf_counter() - start
                    exp = f"exp{n}"
                    t_cmp, cmp = timed(
                        lambda s=store, e=exp: mj.compare(experiment=e, metric="m0", store=s),
                        args.repeat,
                    )
                    # mj.runs() reads the session's store ($MLOPS_JUPYTER_STORE)
                    os.environ["MLOPS_JUPYTER_STORE"] = str(store.location)
                    session_mod.reset_session()
                    t_runs, frame = timed(lambda e=exp: mj.runs(e), args.repeat)
                    assert len(cmp) == n and len(frame) == n
                    checks[name] = round(float(frame["metrics.m3"].sum()), 6)
                    pg_runs, pg_compare = t_runs, t_cmp
                    print(
                        f"  {name}: mj.runs() {t_runs:7.3f} s   compare table {t_cmp:7.3f} s   "
                        f"first compare (folds new runs) {first:7.2f} s   "
                        f"(filled in {filled[name]:.0f} s, not timed)"
                    )
                same = len(set(checks.values())) == 1
                print(f"  same values on both backends: {same}")
                if args.peer:
                    peer = mlflow_on(server, n, args)
                    print(
                        f"  MLflow {peer['version']} on PostgreSQL: mlflow.search_runs "
                        f"{peer['seconds']:7.3f} s, same values: "
                        f"{peer['check'] == checks['PostgreSQL'] and peer['rows'] == n}; "
                        f"{peer['seconds'] / pg_runs:.0f}x the warm mj.runs() (a kept table), "
                        f"{peer['seconds'] / pg_compare:.0f}x the compare table, on PostgreSQL"
                    )
            session_mod.reset_session()
            for store in stores.values():
                store.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
