"""``mlops-jupyter monitor | proposals | approve | reject``: the monitoring loop for cron and CI.

Exit codes: ``monitor`` 0 healthy, 1 action taken or needed (retrained, proposed, promoted, or
a trigger fired with nothing done), 2 bad input (nothing stored). ``approve`` 0 promoted, 1 the
gates fail now (the proposal stays open), 2 bad input or not allowed.
"""

from __future__ import annotations

import json
from typing import Any

import click

from . import store_option

POLICY_EXAMPLE = """\b
A policy file (TOML; YAML too when PyYAML is installed), every key optional:
  alias = "production"
  labels = "label"
  [triggers]
  drift_share = 0.5      # share of drifted feature columns
  metric = "accuracy"
  metric_drop = 0.05     # drop from the registered value
  data_tests = true
  [retrain]
  bundle = "bundle"      # relative to the policy file
  data = "substitute"    # or "append"
  holdout = 0.3          # rows of the batch kept for the gates
  [promotion]
  mode = "proposal"      # or "auto"
  approvers = ["ana"]
  [gates]                # the registry policy (as mj.set_policy)
  compare = { metric = "accuracy", mode = "better", margin = 0.0 }
"""


def _print_result(result: Any) -> None:
    from ._text import table

    click.echo(result.summary())
    click.echo(table(result.table, columns=["trigger", "fired", "figure", "threshold"]))
    est = result.estimate
    if est.value is not None and not result.labelled:
        click.echo(f"estimate: accuracy ~{est.value:.4g} ({est.trust}): {est.reason}")
    elif est.value is None:
        click.echo(f"estimate: {est.reason}")
    if result.data_tests is not None and not result.data_tests.passed:
        click.echo(result.data_tests.summary())
    if result.promotion is not None:
        click.echo(table(result.promotion.gates, columns=["gate", "figure", "verdict", "detail"]))
    for note in result.notes:
        click.echo(f"note: {note}")


@click.command("monitor", epilog=POLICY_EXAMPLE)
@click.option("--model", "model", required=True, help="The registered model to monitor.")
@click.option(
    "--batch",
    "batch",
    default=None,
    metavar="PATH|NAME",
    help="The new batch: a csv/parquet file or a stored dataset NAME[@VERSION].",
)
@click.option("--labels", default=None, metavar="COL", help="The batch's label column.")
@click.option("--bundle", default=None, metavar="DIR", help="The bundle to retrain with.")
@click.option("--policy", default=None, metavar="FILE", help="The policy file (TOML or YAML).")
@click.option("--no-retrain", is_flag=True, help="Check and report only; never retrain.")
@click.option("--by", default=None, metavar="WHO", help="Who runs the loop (audit trail).")
@click.option("--history", is_flag=True, help="Show the model's monitored batches instead.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def monitor(
    ctx: click.Context,
    model: str,
    batch: str | None,
    labels: str | None,
    bundle: str | None,
    policy: str | None,
    no_retrain: bool,
    by: str | None,
    history: bool,
    as_json: bool,
) -> None:
    """Check one new batch against the model's production holder, and act on it.

    Data tests, drift against the holder's training profile, performance on --labels (or an
    estimate without them), then, when the policy's triggers fire: retrain with the bundle,
    gate against the champion on held-out rows of the batch, promote (policy auto) or record a
    proposal. Exit code 0 healthy, 1 action taken or needed, 2 bad input.
    """
    from ..errors import InvalidInput
    from ..monitoring import monitor as run_monitor
    from ..monitoring import monitor_history

    store = store_option(ctx)
    if history:
        if batch is not None:
            raise InvalidInput("--history takes no --batch. Usage: monitor --model NAME --history")
        view = monitor_history(model, store=store)
        if as_json:
            click.echo(json.dumps(view.to_dict(), indent=2, default=str))
            return
        from ._text import table

        cols = ["id", "created_at", "batch", "version", "status", "drift_share", "measured"]
        cols += ["estimate", "estimate_trust", "data_tests_passed", "fired", "retrained_version"]
        click.echo(table(view.batches, columns=cols) if len(view.batches) else "(no batches)")
        return
    if batch is None:
        raise InvalidInput(
            "Name the new batch: --batch PATH|NAME (a csv/parquet file or a stored dataset)."
        )
    result = run_monitor(
        model,
        batch,
        labels=labels,
        bundle=bundle,
        policy=policy,
        retrain=not no_retrain,
        by=by,
        store=store,
        progress=not as_json,
    )
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, default=str))
    else:
        _print_result(result)
    ctx.exit(result.exit_code)


@click.command("proposals")
@click.option("--model", default=None, help="Only this model's proposals.")
@click.option("--all", "show_all", is_flag=True, help="Decided ones too, not only open ones.")
@click.option("--json", "as_json", is_flag=True, help="Print them as JSON.")
@click.pass_context
def proposals(ctx: click.Context, model: str | None, show_all: bool, as_json: bool) -> None:
    """List promotion proposals the monitoring loop recorded (open ones by default)."""
    from ..monitoring import proposals as list_proposals

    found = list_proposals(model, status=None if show_all else "open", store=store_option(ctx))
    if as_json:
        click.echo(json.dumps(found.frame.to_dict("records"), indent=2, default=str))
        return
    if not len(found):
        click.echo("(no open proposals)" if not show_all else "(no proposals)")
        return
    from ._text import table

    cols = ["id", "created_at", "model_name", "alias", "version", "from_version", "status"]
    cols += ["approvers", "decided_by", "summary"]
    click.echo(table(found.frame, columns=cols))


@click.command("approve")
@click.argument("proposal_id", metavar="ID")
@click.option("--reason", required=True, help="Why (goes into the audit trail).")
@click.option("--by", default=None, metavar="WHO", help="Who approves (default: the OS user).")
@click.pass_context
def approve(ctx: click.Context, proposal_id: str, reason: str, by: str | None) -> None:
    """Carry out a promotion proposal: the gates run again, the alias moves when they pass.

    Exit code 0 promoted, 1 the gates fail now (the proposal stays open), 2 bad input.
    """
    from ..monitoring import approve as run_approve

    result = run_approve(proposal_id, reason, by=by, store=store_option(ctx))
    click.echo(result.summary())
    ctx.exit(0 if result.moved else 1)


@click.command("reject")
@click.argument("proposal_id", metavar="ID")
@click.option("--reason", required=True, help="Why (goes into the audit trail).")
@click.option("--by", default=None, metavar="WHO", help="Who rejects (default: the OS user).")
@click.pass_context
def reject(ctx: click.Context, proposal_id: str, reason: str, by: str | None) -> None:
    """Close a promotion proposal without promoting (recorded in the audit trail)."""
    from ..monitoring import reject as run_reject

    row = run_reject(proposal_id, reason, by=by, store=store_option(ctx))
    click.echo(
        f"Proposal {row['id']} rejected: {row['model_name']} v{row['version']} does not take "
        f"{row['alias']}."
    )


@click.command("propose")
@click.option("--model", "model", required=True, help="The registered model the bundle trains.")
@click.option("--bundle", default=None, metavar="DIR", help="The changed bundle.")
@click.option("--policy", default=None, metavar="FILE", help="The policy file (TOML or YAML).")
@click.option("--by", default=None, metavar="WHO", help="Who proposes (audit trail).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def propose(
    ctx: click.Context,
    model: str,
    bundle: str | None,
    policy: str | None,
    by: str | None,
    as_json: bool,
) -> None:
    """A code update: re-run a changed bundle, register what it fits, gate it against the
    champion on the champion's evaluation rows, then promote (policy auto) or propose it.

    Exit code 0 proposed or promoted, 1 the gates failed, 2 bad input (an input file changed).
    """
    from ..monitoring import propose as run_propose

    result = run_propose(
        model, bundle, policy=policy, by=by, store=store_option(ctx), progress=not as_json
    )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "model": result.model,
                    "alias": result.alias,
                    "champion": result.champion,
                    "version": result.version,
                    "run_id": result.run_id,
                    "status": result.status,
                    "proposal_id": result.proposal_id,
                    "summary": result.summary(),
                    "gates": result.promotion.gate_records(),
                },
                indent=2,
                default=str,
            )
        )
    else:
        from ._text import table

        click.echo(result.summary())
        click.echo(table(result.promotion.gates, columns=["gate", "figure", "verdict", "detail"]))
    ctx.exit(result.exit_code)
