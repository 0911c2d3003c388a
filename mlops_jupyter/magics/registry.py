"""``%mlops register | models | promote | rollback``: parse, call the registry, display."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInput
from ._args import MagicArgumentParser


def _parser(subcommand: str) -> MagicArgumentParser:
    """A parser whose usage is the one-line usage of the :data:`SUBCOMMANDS` table."""
    from . import SUBCOMMANDS

    usage = SUBCOMMANDS[subcommand][1].replace(f"%mlops {subcommand}", "%(prog)s", 1)
    return MagicArgumentParser(subcommand, usage=usage)


def _variable(shell: Any, name: str, what: str) -> Any:
    ns = getattr(shell, "user_ns", {}) or {}
    if name not in ns:
        raise InvalidInput(
            f"No variable named {name!r} in the notebook. "
            f"Run the cell that defines it first, then pass its name as {what}."
        )
    return ns[name]


def register(shell: Any, args: list[str]) -> Any:
    from ..registry import register_model

    parser = _parser("register")
    parser.add_argument("model_var", metavar="MODEL_VAR")
    parser.add_argument("--name", required=True)
    parser.add_argument("--eval", nargs=2, metavar=("X_VAR", "Y_VAR"), default=None)
    parser.add_argument("--train", metavar="X_VAR", default=None)
    parser.add_argument("--by", default=None)
    parser.add_argument("--allow-pickle", action="store_true")
    ns = parser.parse(args)
    model = _variable(shell, ns.model_var, "MODEL_VAR")
    eval_data = None
    if ns.eval:
        eval_data = (_variable(shell, ns.eval[0], "X_VAR"), _variable(shell, ns.eval[1], "Y_VAR"))
    train = _variable(shell, ns.train, "--train X_VAR") if ns.train else None
    row = register_model(
        model,
        ns.name,
        eval_data=eval_data,
        train_data=train,
        by=ns.by,
        allow_pickle=ns.allow_pickle,
    )
    print(_describe(row))
    return None


def _describe(row: dict[str, Any]) -> str:
    metrics = ", ".join(f"{k}={v:.4g}" for k, v in row["metrics"].items() if v is not None)
    data = ", ".join(
        f"{d['name']}@{d['version']}" if d.get("name") else str(d["fingerprint"])[:12]
        for d in row["training_datasets"]
    )
    parts = [f"Registered {row['name']} v{row['version']} ({row['class_name']}, {row['format']})"]
    parts.append(f"trained on {data or 'unknown data'}")
    parts.append("evaluation data stored" if row["eval_fingerprint"] else "no evaluation data")
    if metrics:
        parts.append(metrics)
    return "; ".join(parts) + "."


def models(shell: Any, args: list[str]) -> Any:
    from ..registry import models as list_models

    parser = _parser("models")
    parser.add_argument("name", nargs="?", default=None)
    parser.add_argument("--history", action="store_true")
    parser.add_argument("--alias", default=None)
    parser.add_argument("--at", default=None, metavar="DATE")
    parser.add_argument("--static", action="store_true")
    ns = parser.parse(args)
    if ns.name is None:
        if ns.history or ns.at:
            raise InvalidInput(
                "--history and --at need a model name. Example: %mlops models churn --history"
            )
        return list_models()
    view = list_models(ns.name)
    if ns.at is not None or ns.alias is not None:
        alias = ns.alias or "production"
        held = view.holder(alias, at=ns.at)
        when = f"on {ns.at}" if ns.at else "now"
        print(f"{alias} of {view.name} {when}: " + (f"v{held}" if held is not None else "nobody"))
        return None
    if ns.history:
        from IPython.display import HTML

        from ..display.registry import history_html

        return HTML(history_html(view))
    if ns.static or type(shell).__name__ != "ZMQInteractiveShell":
        return view
    return _panel(view)


def _panel(view: Any) -> Any:
    """The live panel, displayed with its static form (for a notebook reopened without its
    kernel, nbconvert, GitHub)."""
    from ..display.bundle import WithStatic
    from ..display.registry import model_html, registry_panel
    from ..registry import check_gates, models, promote

    name, store = view.name, view.store
    box = registry_panel(
        view,
        check=lambda version, alias: check_gates(name, version, alias, store=store),
        promote=lambda version, alias, reason: promote(
            name, version, alias, reason=reason, store=store
        ),
        refresh=lambda: models(name, store=store),
    )
    return WithStatic(box, lambda: model_html(view))


def promote(shell: Any, args: list[str]) -> Any:
    from ..registry import promote as run_promote

    parser = _parser("promote")
    parser.add_argument("name")
    parser.add_argument("version")
    parser.add_argument("--to", required=True, metavar="ALIAS")
    parser.add_argument("--reason", default=None)
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--by", default=None)
    ns = parser.parse(args)
    return run_promote(ns.name, ns.version, ns.to, reason=ns.reason, force=ns.force, by=ns.by)


def rollback(shell: Any, args: list[str]) -> Any:
    from ..registry import rollback as run_rollback

    parser = _parser("rollback")
    parser.add_argument("name")
    parser.add_argument("alias")
    parser.add_argument("--reason", default=None)
    parser.add_argument("--by", default=None)
    ns = parser.parse(args)
    done = run_rollback(ns.name, ns.alias, reason=ns.reason, by=ns.by)
    print(
        f"Rolled back {done['alias']} of {done['name']}: "
        f"v{done['from_version']} -> v{done['to_version']}."
    )
    return None
