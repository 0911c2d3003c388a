"""``%mlops monitor | proposals | approve | reject``: parse, call the monitoring core, display."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInput
from ._args import MagicArgumentParser


def _parser(subcommand: str) -> MagicArgumentParser:
    """A parser whose usage is the one-line usage of the :data:`SUBCOMMANDS` table."""
    from . import SUBCOMMANDS

    usage = SUBCOMMANDS[subcommand][1].replace("%", "%%")
    return MagicArgumentParser(subcommand, usage=usage)


def _batch(shell: Any, name: str) -> Any:
    """A DataFrame bound to ``name`` in the notebook, else the name (a file or stored dataset)."""
    ns = getattr(shell, "user_ns", None) or {}
    value = ns.get(name)
    if value is not None and hasattr(value, "columns") and hasattr(value, "dtypes"):
        return value
    return name


def monitor(shell: Any, args: list[str]) -> Any:
    from ..monitoring import monitor as run_monitor
    from ..monitoring import monitor_history

    parser = _parser("monitor")
    parser.add_argument("--model", required=True)
    parser.add_argument("--batch", default=None)
    parser.add_argument("--labels", default=None)
    parser.add_argument("--bundle", default=None)
    parser.add_argument("--policy", default=None)
    parser.add_argument("--no-retrain", action="store_true")
    parser.add_argument("--by", default=None)
    parser.add_argument("--history", action="store_true")
    ns = parser.parse(args)
    if ns.history:
        if ns.batch is not None:
            raise InvalidInput(
                "--history takes no --batch. Usage: %mlops monitor --model NAME --history"
            )
        return monitor_history(ns.model)
    if ns.batch is None:
        raise InvalidInput(
            "Name the new batch: --batch VAR|PATH|NAME (a DataFrame variable, a csv/parquet file "
            "or a stored dataset)."
        )
    batch = _batch(shell, ns.batch)
    return run_monitor(
        ns.model,
        batch,
        labels=ns.labels,
        bundle=ns.bundle,
        policy=ns.policy,
        retrain=not ns.no_retrain,
        by=ns.by,
        **({} if isinstance(batch, str) else {"name": ns.batch}),
    )


def proposals(shell: Any, args: list[str]) -> Any:
    from ..monitoring import proposals as list_proposals

    parser = _parser("proposals")
    parser.add_argument("--model", default=None)
    parser.add_argument("--all", action="store_true")
    ns = parser.parse(args)
    return list_proposals(ns.model, status=None if ns.all else "open")


def approve(shell: Any, args: list[str]) -> Any:
    from ..monitoring import approve as run_approve

    parser = _parser("approve")
    parser.add_argument("proposal_id", metavar="ID")
    parser.add_argument("--reason", required=True)
    parser.add_argument("--by", default=None)
    ns = parser.parse(args)
    return run_approve(ns.proposal_id, ns.reason, by=ns.by)


def propose(shell: Any, args: list[str]) -> Any:
    from ..monitoring import propose as run_propose

    parser = _parser("propose")
    parser.add_argument("--model", required=True)
    parser.add_argument("--bundle", default=None)
    parser.add_argument("--policy", default=None)
    parser.add_argument("--by", default=None)
    ns = parser.parse(args)
    return run_propose(ns.model, ns.bundle, policy=ns.policy, by=ns.by)


def reject(shell: Any, args: list[str]) -> Any:
    from ..monitoring import reject as run_reject

    parser = _parser("reject")
    parser.add_argument("proposal_id", metavar="ID")
    parser.add_argument("--reason", required=True)
    parser.add_argument("--by", default=None)
    ns = parser.parse(args)
    row = run_reject(ns.proposal_id, ns.reason, by=ns.by)
    print(
        f"Proposal {row['id']} rejected: {row['model_name']} v{row['version']} does not take "
        f"{row['alias']}."
    )
    return None
