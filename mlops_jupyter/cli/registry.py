"""``mlops-jupyter models | promote | rollback | audit``: the registry for CI pipelines.

Exit codes a pipeline can act on: ``promote`` exits 0 when the alias moved and 1 when the gates
failed; ``audit verify`` exits 0 when the trail is intact and 1 when anything was tampered with;
``audit head`` prints ``HASH COUNT`` of a verified trail (exit 1 if it is broken).
"""

from __future__ import annotations

from typing import Any

import click

from . import store_option


def _text_table(frame: Any, columns: list[str] | None = None) -> str:
    if frame is None or not len(frame):
        return "(none)"
    from ._text import table

    return table(frame, columns=columns)


@click.command("models")
@click.argument("name", required=False)
@click.option("--history", is_flag=True, help="Every holder of each alias, with time ranges.")
@click.option("--alias", default=None, help="With --at: which alias to ask about.")
@click.option("--at", "at", default=None, metavar="DATE", help="Which version held --alias then.")
@click.pass_context
def models(
    ctx: click.Context, name: str | None, history: bool, alias: str | None, at: str | None
) -> None:
    """List registered models, or one model's versions, aliases and history."""
    from ..registry import models as list_models

    store = store_option(ctx)
    if name is None:
        listing = list_models(store=store)
        click.echo(_text_table(listing.frame))
        for row in listing.frame.to_dict("records") if len(listing.frame) else []:
            if row.get("files", "ok") != "ok":
                _warn_files(row["name"], row["files"])
        return
    view = list_models(name, store=store)
    if at is not None or alias is not None:
        alias = alias or "production"
        held = view.holder(alias, at=at)
        click.echo(f"{alias}: " + (f"v{held}" if held is not None else "nobody"))
        return
    if history:
        cols = ["alias", "version", "action", "start_at", "end_at", "who", "reason", "forced"]
        click.echo(_text_table(view.history, cols))
        return
    aliases = ", ".join(f"{a}=v{v}" for a, v in view.aliases.items()) or "none"
    click.echo(f"{view.name}  aliases: {aliases}")
    cols = ["version", "aliases", "class", "created_at", "created_by", "trained_on", "file"]
    cols += [c for c in view.versions.columns if str(c).startswith("metrics.")]
    click.echo(_text_table(view.versions, cols))
    bad = [
        f"v{r['version']} {r['file']}"
        for r in view.versions.to_dict("records")
        if r["file"] not in ("ok", "unvouched")
    ]
    if bad:
        _warn_files(view.name, ", ".join(bad))


def _warn_files(name: str, files: str) -> None:
    click.echo(
        f"Warning: model files of {name!r} are not the registered ones ({files}); they will not "
        "load. Run `mlops-jupyter audit verify`, restore them from a backup or register again.",
        err=True,
    )


@click.command("promote")
@click.argument("name")
@click.argument("version")
@click.option("--to", "alias", required=True, help="The alias to move (e.g. production).")
@click.option("--reason", default=None, help="Why; recorded in the audit trail.")
@click.option("--force", is_flag=True, help="Move the alias even if gates fail (needs --reason).")
@click.option("--by", default=None, help="Who promotes (default: the OS user).")
@click.pass_context
def promote(
    ctx: click.Context,
    name: str,
    version: str,
    alias: str,
    reason: str | None,
    force: bool,
    by: str | None,
) -> None:
    """Run promotion gates and move an alias; exit 1 when the gates fail."""
    from ..registry import promote as run_promote

    result = run_promote(
        name, version, alias, reason=reason, force=force, by=by, store=store_option(ctx)
    )
    click.echo(_text_table(result.gates))
    click.echo(result.summary())
    ctx.exit(0 if result.moved else 1)


@click.command("rollback")
@click.argument("name")
@click.argument("alias")
@click.option("--reason", default=None, help="Why; recorded in the audit trail.")
@click.option("--by", default=None, help="Who rolls back (default: the OS user).")
@click.pass_context
def rollback(ctx: click.Context, name: str, alias: str, reason: str | None, by: str | None) -> None:
    """Move an alias back to its previous holder."""
    from ..registry import rollback as run_rollback

    done = run_rollback(name, alias, reason=reason, by=by, store=store_option(ctx))
    click.echo(
        f"Rolled back {done['alias']} of {done['name']}: "
        f"v{done['from_version']} -> v{done['to_version']}."
    )


@click.group("audit")
def audit() -> None:
    """The registry's audit trail."""


@audit.command("verify")
@click.option(
    "--expect",
    default=None,
    metavar="HASH",
    help="A head hash from `audit head` kept outside the store: fail unless the trail holds it.",
)
@click.pass_context
def verify(ctx: click.Context, expect: str | None) -> None:
    """Check the trail and what it vouches for; exit 1 when anything was tampered with."""
    from ..registry import audit_verify

    report = audit_verify(expect=expect, store=store_option(ctx))
    click.echo(report.summary())
    for problem in report.problems[1:]:
        click.echo(f"  also: {problem}")
    for note in report.notes:
        click.echo(f"  note: {note}")
    ctx.exit(0 if report.ok else 1)


@audit.command("head")
@click.pass_context
def head(ctx: click.Context) -> None:
    """Print the head hash and record count (verified first); commit it, or keep it in CI."""
    from ..registry import audit_verify

    report = audit_verify(store=store_option(ctx))
    if not report.ok:
        click.echo(report.summary(), err=True)
        ctx.exit(1)
    click.echo(f"{report.head_hash} {report.n_records}")


@audit.command("list")
@click.argument("name", required=False)
@click.pass_context
def list_records(ctx: click.Context, name: str | None) -> None:
    """Print the audit records (of one model, or all)."""
    import pandas as pd

    from ..registry.versions import require_model

    store = store_option(ctx)
    rows = store.list_audit_records(name) if store.has_registry() else []
    if name is not None and not rows:
        require_model(store, name)  # an unknown name is an error, as in `models NAME`
    cols = ["id", "at", "action", "who", "name", "from_version", "to_version", "alias", "reason"]
    click.echo(_text_table(pd.DataFrame(rows), [*cols, "forced"]))
