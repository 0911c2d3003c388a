"""``%mlops`` tracking subcommands: status, experiment, run, runs, param, metric, on, off."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInput
from ._args import MagicArgumentParser, parse_assignments


def _session() -> Any:
    from ..capture.session import get_session

    return get_session()


def _no_args(name: str, args: list[str]) -> None:
    if args:
        raise InvalidInput(
            f"%mlops {name} takes no arguments, got {' '.join(args)!r}. Usage: %mlops {name}"
        )


def status(shell: Any, args: list[str]) -> Any:
    from ..capture.status import status as build

    _no_args("status", args)
    return build(_session())


def experiment(shell: Any, args: list[str]) -> None:
    parser = MagicArgumentParser("experiment")
    parser.add_argument("name")
    ns = parser.parse(args)
    session = _session()
    name = session.set_experiment(ns.name)
    run_id = session.start_run()
    print(f"Experiment {name!r}: run {session.run_name} ({run_id}) started.")


def run(shell: Any, args: list[str]) -> None:
    parser = MagicArgumentParser("run")
    parser.add_argument("name", nargs="?")
    ns = parser.parse(args)
    session = _session()
    run_id = session.start_run(ns.name)
    print(f"Run {session.run_name} ({run_id}) started in experiment {session.experiment!r}.")


def runs(shell: Any, args: list[str]) -> Any:
    from ..capture.api import runs as runs_frame

    parser = MagicArgumentParser("runs")
    parser.add_argument("--experiment")
    ns = parser.parse(args)
    return runs_frame(ns.experiment)


def param(shell: Any, args: list[str]) -> None:
    from ..capture.api import log_params

    if not args:
        raise InvalidInput(
            "%mlops param needs at least one KEY=VALUE. Usage: %mlops param lr=0.1 depth=5"
        )
    log_params(parse_assignments(args, "params"))


def metric(shell: Any, args: list[str]) -> None:
    from ..capture.api import log_metric

    parser = MagicArgumentParser("metric")
    parser.add_argument("pairs", nargs="+", metavar="KEY=VALUE")
    parser.add_argument("--step", type=int)
    ns = parser.parse(args)
    values = parse_assignments(ns.pairs, "metrics")
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidInput(
                f"Metric {key!r} needs a number, got {value!r}. Usage: %mlops metric auc=0.93 [--step N]"
            )
    for key, value in values.items():
        log_metric(key, float(value), ns.step)


def on(shell: Any, args: list[str]) -> None:
    _no_args("on", args)
    _session().enabled = True
    print("mlops-jupyter: capture on.")


def off(shell: Any, args: list[str]) -> None:
    _no_args("off", args)
    _session().enabled = False
    print("mlops-jupyter: capture paused (%mlops on resumes).")
