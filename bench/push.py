"""Benchmark (#15): ``mlops-jupyter push`` of a 1,000-run SQLite store into the PostgreSQL team
store, then a second push, which must add 0 rows (every table of the team store counted before
and after), and a pull of it all back into a new SQLite file.

Each run has ``--params`` params, ``--metrics`` metrics with ``--steps`` steps each and one
execution (bench/team_runs.py's runs, plus history). The server is local (tests/pgserver.py,
durable: fsync on). The push is the CLI's own code path (``copy_store``), timed end to end.

    .venv/bin/python bench/push.py [--runs 1000] [--steps 10]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from click.testing import CliRunner  # noqa: E402

from mlops_jupyter.cli import cli  # noqa: E402
from mlops_jupyter.store import open_store  # noqa: E402
from tests import pgserver  # noqa: E402


def populate(store: Any, n: int, n_params: int, n_metrics: int, steps: int) -> None:
    with store.write():
        for i in range(n):
            run_id = store.create_run("pushed", name=f"run-{i}")["id"]
            ex = store.add_execution(run_id, code=f"fit({i})", code_hash=f"h{i}",
                                     started_at="2026-12-01T00:00:00Z", duration_s=0.1,
                                     status="ok")  # fmt: skip
            store.log_params(run_id, {f"p{j}": (i + j) % 50 for j in range(n_params)},
                             execution_id=ex)  # fmt: skip
            store.log_metrics(
                run_id,
                [(f"m{k}", (i * 31 + k * 17 + s) % 1000 / 1000.0, s, None)
                 for k in range(n_metrics) for s in range(steps)],
                execution_id=ex,
            )  # fmt: skip
            store.end_run(run_id)


def counts(store: Any) -> dict[str, int]:
    return {
        t: int(store.query(f"SELECT COUNT(*) AS n FROM {t}")[0]["n"])
        for t in store.table_names()
        if not t.startswith("_")
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--params", type=int, default=10)
    parser.add_argument("--metrics", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    server = pgserver.start(durable=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "alice" / "lineage.db"
            store = open_store(local, shared=False)
            populate(store, args.runs, args.params, args.metrics, args.steps)
            rows = sum(counts(store).values())
            store.close()
            team = server.store_url("team")
            print(f"local store: {args.runs} runs, {rows} rows in all")
            times = []
            for attempt in ("first", "second"):
                if attempt == "second":
                    target = open_store(team, shared=False)
                    before = counts(target)
                    target.close()
                start = time.perf_counter()
                out = CliRunner().invoke(cli, ["--store", str(local), "push", "--to", team])
                times.append(time.perf_counter() - start)
                assert out.exit_code == 0, out.output
                print(f"{attempt} push: {times[-1]:6.2f} s   {out.output.strip()}")
            target = open_store(team, shared=False)
            after = counts(target)
            target.close()
            added = sum(after.values()) - sum(before.values())
            changed = {t: after[t] - before.get(t, 0) for t in after if after[t] != before.get(t)}
            print(f"second push added {added} rows to the team store {changed or ''}")
            start = time.perf_counter()
            offline = Path(tmp) / "bob" / "lineage.db"
            out = CliRunner().invoke(cli, ["--store", str(offline), "pull", "--from", team])
            assert out.exit_code == 0, out.output
            print(f"pull into a new file: {time.perf_counter() - start:6.2f} s")
            print(
                f"push of {args.runs} runs: {times[0]:.2f} s ({1000 * times[0] / args.runs:.1f} ms "
                f"per run); the second push: {times[1]:.2f} s, {added} rows added"
            )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
