"""Registering model versions, loading them back safely, and looking at what is registered."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from ..errors import InvalidInput, ModelNotFound, RegistryError
from . import lineage
from .audit import current_user
from .card import build_card, card_markdown
from .evaldata import evaluate, is_pii_data, split_xy, task_of, write_snapshot
from .files import SKOPS, dump_model, load_bytes, untrusted_types
from .integrity import OK, UNVOUCHED, artifact_status, check_artifact, sha256_hex


def resolve_store(store: Any = None) -> Any:
    """A ``Store``: the one given, one opened from a path, the session's, or the default."""
    from ..store import Store, open_store

    if isinstance(store, Store):
        return store
    if isinstance(store, str | os.PathLike):
        return open_store(store)
    if store is not None:
        raise InvalidInput(
            f"store must be a Store or a path, not {type(store).__name__}. "
            "Pass store=mj.open_store('path/to/lineage.db') or leave it out."
        )
    return lineage.session_store() or open_store()


NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def check_name(name: Any, what: str = "model name", *, new: bool = False) -> str:
    """``name`` as text; ``new`` names (a model being registered, an alias being given) must
    also be 1-64 letters, digits, ``_``, ``.`` or ``-``, starting with a letter or digit."""
    text = name.strip() if isinstance(name, str) else ""
    usable = bool(text) and len(text) <= 200 and not any(c in text for c in "\n\r\t")
    if not usable or (new and not NAME_PATTERN.fullmatch(text)):
        raise InvalidInput(
            f"{what.capitalize()} {name!r} is not usable. Use 1-64 letters, digits, '_', '.' "
            "or '-' as text, e.g. 'churn-classifier'."
        )
    return text


def require_model(st: Any, name: str) -> None:
    """Raise :class:`ModelNotFound` naming the registered models unless ``name`` has a version."""
    known = [r["name"] for r in st.list_registered_models() if r["n_versions"]]
    if name in known:
        return
    listed = ", ".join(repr(k) for k in known[:10]) + (", ..." if len(known) > 10 else "")
    raise ModelNotFound(
        f"No registered model named {name!r} "
        + (f"(registered: {listed}). " if known else "(none is registered yet). ")
        + "Check the name with `%mlops models`, or register one with "
        "`%mlops register MODEL_VAR --name NAME`."
    )


def check_model(model: Any) -> None:
    """Refuse what cannot be a registered model: no ``.predict``, or an unfitted estimator."""
    if model is None or isinstance(model, type) or not callable(getattr(model, "predict", None)):
        raise InvalidInput(
            f"register_model needs a fitted model with .predict, got {type(model).__name__}. "
            "Pass the estimator itself, e.g. mj.register_model(clf, 'churn')."
        )
    base = sys.modules.get("sklearn.base")
    if base is None or not isinstance(model, base.BaseEstimator):
        return
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(model)
    except NotFittedError:
        raise InvalidInput(
            f"This {type(model).__name__} is not fitted, so it cannot predict. "
            "Fit it first (e.g. clf.fit(X_train, y_train)), then register it."
        ) from None


def register_model(
    model: Any,
    name: str,
    *,
    eval_data: Any = None,
    train_data: Any = None,
    metrics: Mapping[str, float] | None = None,
    run: str | None = None,
    store: Any = None,
    allow_pickle: bool = False,
    by: str | None = None,
) -> dict[str, Any]:
    """Store a fitted model as the next version of ``name``; returns the version record.

    The model is written with skops (pickle only with ``allow_pickle=True``). Its run, the
    datasets it was trained on and the data its metrics were computed on come from lineage
    when not given: ``eval_data=(X, y)`` and ``train_data=X`` override. The evaluation data is
    snapshotted so a later promotion can compare champion and challenger on the same rows.
    Metrics: ``metrics`` given > computed on ``eval_data`` > those lineage recorded from this
    very model (with ``run=`` named and no lineage of the model: that run's latest metrics).
    ``name`` is 1-64 letters, digits, ``_``, ``.`` or ``-``; an unfitted scikit-learn
    estimator is refused.
    """
    name = check_name(name, new=True)
    check_model(model)
    st = resolve_store(store)
    data, fmt = dump_model(model, allow_pickle=allow_pickle)
    fingerprint = lineage.model_fingerprint(model, data)
    artifact = st.put_artifact(data, "application/x-skops" if fmt == "skops" else "pickle")
    captured = lineage.captured_model(st, fingerprint)
    run_id = run or (captured or {}).get("run_id") or lineage.session_run_id()
    run_row = st.find_run(run_id) if run_id else None
    if run and run_row is None:
        raise InvalidInput(f"No run with id {run!r}. List runs with `%mlops runs`.")
    run_id = run_row["id"] if run_row else None
    namespace = lineage.user_namespace()

    # training data: lineage edges, plus a snapshot of X when we can find it
    train_fps = lineage.training_fingerprints(st, fingerprint)
    training = lineage.describe_datasets(st, train_fps)
    if train_data is None and train_fps:
        train_data, _ = lineage.pick_x(lineage.find_objects(st, train_fps, namespace))
    train_row = None
    if train_data is not None:
        X_train, _ = split_xy(train_data)
        train_row = None if is_pii_data(st, X_train) else write_snapshot(st, X_train)
        if not training and train_row is not None:
            training = [{"name": None, "version": None, "fingerprint": train_row["fingerprint"]}]

    # evaluation data: given, else the data the run's metrics were computed on
    eval_names: list[str] = []
    if eval_data is None:
        eval_fps, direct = lineage.evaluated_fingerprints(st, run_id, fingerprint)
        X_eval, y_eval, eval_names = lineage.pick_xy(
            model,
            lineage.find_objects(st, eval_fps, namespace),
            training=set(train_fps),
            direct=direct,
            logged=lineage.model_metrics(st, run_id, fingerprint),
        )
        if X_eval is not None and y_eval is not None:
            eval_data = (X_eval, y_eval)
    eval_row = None
    computed: dict[str, float] = {}
    if eval_data is not None:
        X_eval, y_eval = split_xy(eval_data)
        eval_row = None if is_pii_data(st, X_eval) else write_snapshot(st, X_eval, y_eval)
        if y_eval is not None:
            try:
                computed = evaluate(model, X_eval, y_eval)
            except Exception as exc:
                raise InvalidInput(
                    f"The model cannot predict on the evaluation data ({type(exc).__name__}: "
                    f"{exc}). Pass eval_data=(X, y) with the features it was trained on."
                ) from None

    # the metrics computed from this very model; a run's latest metrics only when the caller
    # named the run and lineage knows nothing of the model (never another model's metrics)
    run_metrics = lineage.model_metrics(st, run_id, fingerprint)
    if not run_metrics and run and run_id and captured is None:
        run_metrics = st.latest_metrics(run_id)
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for source, values in (("run", run_metrics), ("eval_data", computed), ("given", metrics)):
        for key, value in (values or {}).items():
            merged[str(key)] = None if value is None else float(value)
            sources[str(key)] = source

    task = task_of(model)
    card = build_card(
        model,
        name=name,
        task=task,
        metrics=merged,
        metric_sources=sources,
        training_datasets=training,
        eval_data=(
            None
            if eval_row is None
            else {
                "fingerprint": eval_row["fingerprint"],
                "rows": eval_row["n_rows"],
                "variables": eval_names,
            }
        ),
        run=(
            None
            if run_row is None
            else {"id": run_row["id"], "name": run_row["name"], "experiment": run_row["experiment"]}
        ),
    )
    who = current_user(by)
    # what the register record vouches for: the exact bytes, so a load checks them first
    details = {
        "artifact_sha256": sha256_hex(data),
        "eval_sha256": eval_row["sha256"] if eval_row else None,
        "train_sha256": train_row["sha256"] if train_row else None,
    }

    def audit(version: int) -> dict[str, Any]:
        return {"action": "register", "who": who, "name": name, "to_version": version}

    return st.create_model_version(
        name,
        model_fingerprint=fingerprint,
        class_name=type(model).__name__,
        task=task,
        artifact_hash=artifact,
        format=fmt,
        untrusted_types=untrusted_types(data) if fmt == SKOPS else [],
        run_id=run_id,
        execution_id=(captured or {}).get("execution_id"),
        metrics=merged,
        training_datasets=training,
        train_fingerprint=train_row["fingerprint"] if train_row else None,
        eval_fingerprint=eval_row["fingerprint"] if eval_row else None,
        card=card,
        created_by=who,
        audit=audit,
        details=details,
    )


def resolve_version(
    st: Any, name: str, version: int | str | None = None, alias: str | None = None
) -> dict[str, Any]:
    """The version row for ``version``, or the holder of ``alias``, or the latest."""
    if version is not None and alias is not None:
        raise InvalidInput(
            "Give either a version or an alias, not both. "
            f"Example: mj.load_model({name!r}, alias='production')."
        )
    if alias is not None:
        held = st.find_alias_holder(name, alias)
        if held is None:
            st.list_model_versions(name)  # raises ModelNotFound for an unknown name
            raise RegistryError(
                f"No version of {name!r} holds the alias {alias!r}. "
                f"Promote one with `%mlops promote {name} VERSION --to {alias}`."
            )
        return st.get_model_version(name, held)
    if version is None or str(version) == "latest":
        rows = st.list_model_versions(name)
        if not rows:
            raise RegistryError(
                f"Model {name!r} has no versions yet. "
                f"Register one with `%mlops register MODEL_VAR --name {name}`."
            )
        return rows[-1]
    try:
        number = int(version)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"Version {version!r} is not a number. Use e.g. 2, or alias='production'."
        ) from None
    return st.get_model_version(name, number)


def load_version(
    st: Any,
    row: dict[str, Any],
    *,
    trusted: Sequence[str] | None = None,
    allow_pickle: bool = False,
) -> Any:
    data = check_artifact(st, row, doing="nothing was loaded")
    what = f"{row['name']!r} version {row['version']}"
    hint = f"mj.load_model({row['name']!r}, version={row['version']}, trusted={{types!r}})"
    return load_bytes(
        data, row["format"], what=what, trusted=trusted, allow_pickle=allow_pickle, hint=hint
    )


def load_model(
    name: str,
    version: int | str | None = None,
    alias: str | None = None,
    trusted: Sequence[str] | None = None,
    *,
    allow_pickle: bool = False,
    store: Any = None,
) -> Any:
    """Load a registered model (a version, the holder of an alias, or the latest).

    Types skops does not trust by default are refused with :class:`UnsafeModel` listing them;
    pass ``trusted=[...]`` to accept them explicitly. Pickle files load only with
    ``allow_pickle=True``, with a warning.
    """
    st = resolve_store(store)
    name = check_name(name)
    require_model(st, name)
    row = resolve_version(st, name, version, alias)
    return load_version(st, row, trusted=trusted, allow_pickle=allow_pickle)


# -- looking at the registry ------------------------------------------------------------------


def parse_instant(at: Any) -> str:
    """An ISO-8601 UTC string for ``at``: datetime (naive = UTC), date (its end), or text."""
    if at is None:
        return datetime.now(UTC).isoformat(timespec="microseconds")
    if isinstance(at, str):
        text = at.strip()
        try:
            at = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            raise InvalidInput(
                f"Cannot read the date {text!r}. Use ISO format, e.g. 2025-03-01 or "
                "2025-03-01T12:00:00."
            ) from None
    if isinstance(at, datetime):
        dt = at if at.tzinfo else at.replace(tzinfo=UTC)
    elif isinstance(at, date):
        dt = datetime.combine(at, time.max, tzinfo=UTC)
    else:
        raise InvalidInput(
            f"Cannot use {type(at).__name__} as a date. Pass a datetime, a date or an ISO string."
        )
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class RegisteredModel:
    """One registered model: its versions (with aliases and metrics), aliases and history."""

    name: str
    versions: Any  # DataFrame, one row per version
    aliases: dict[str, int]
    history: Any  # DataFrame: alias, version, action, start_at, end_at, who, reason, forced
    policy: dict[str, Any] | None
    store: Any = field(repr=False, compare=False)

    def holder(self, alias: str, at: Any = None) -> int | None:
        """The version holding ``alias`` at ``at`` (now by default; a date means its end)."""
        if at is None:
            return self.store.find_alias_holder(self.name, alias)
        return self.store.alias_holder_at(self.name, alias, parse_instant(at))

    def card(self, version: int | None = None) -> str:
        """The model card of a version (latest by default) as Markdown."""
        row = resolve_version(self.store, self.name, version)
        return card_markdown(row["card"], row["version"])

    def audit(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.store.list_audit_records(self.name))

    def __repr__(self) -> str:
        aliases = ", ".join(f"{a}=v{v}" for a, v in sorted(self.aliases.items())) or "none"
        table = self.versions.to_string(index=False) if len(self.versions) else "(no versions)"
        return f"Model {self.name!r} (aliases: {aliases})\n{table}"

    def to_html(self) -> str:
        from ..display.registry import model_html

        return model_html(self)

    def _repr_html_(self) -> str:
        return self.to_html()


@dataclass(frozen=True)
class ModelList:
    """Every registered model with its version count and aliases."""

    frame: Any

    def to_html(self) -> str:
        from ..display.html import panel

        if self.frame.empty:
            return panel(
                "Registered models",
                '<div class="mlops-muted">No registered models yet. '
                "Register one with <code>%mlops register MODEL_VAR --name NAME</code>.</div>",
            )
        from ..display.registry import clean_table

        return panel("Registered models", clean_table(self.frame))

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        return self.frame.to_string(index=False) if len(self.frame) else "(no registered models)"

    def __len__(self) -> int:
        return len(self.frame)


def versions_frame(st: Any, name: str) -> Any:
    import pandas as pd

    rows = st.list_model_versions(name)
    held: dict[int, list[str]] = {}
    for alias, version in st.get_aliases(name).items():
        held.setdefault(version, []).append(alias)
    records = []
    for r in rows:
        rec: dict[str, Any] = {
            "version": r["version"],
            "aliases": ", ".join(sorted(held.get(r["version"], []))),
            "class": r["class_name"],
            "created_at": r["created_at"],
            "created_by": r["created_by"],
            "run_id": r["run_id"],
            "trained_on": ", ".join(
                f"{d['name']}@{d['version']}" if d.get("name") else str(d["fingerprint"])[:12]
                for d in r["training_datasets"]
            ),
            "eval_data": bool(r["eval_fingerprint"]),
            "format": r["format"],
            "file": artifact_status(st, r),  # ok | changed | missing | unvouched
        }
        for key, value in sorted(r["metrics"].items()):
            rec[f"metrics.{key}"] = value
        records.append(rec)
    return pd.DataFrame(records)


def files_summary(st: Any, name: str) -> str:
    """``ok``, or the versions whose model file is not the registered one ("v2 changed")."""
    bad = []
    for r in st.list_model_versions(name):
        status = artifact_status(st, r)
        if status not in (OK, UNVOUCHED):
            bad.append(f"v{r['version']} {status}")
    return ", ".join(bad) or OK


def models(name: str | None = None, *, store: Any = None) -> RegisteredModel | ModelList:
    """``mj.models()``: every registered model; ``mj.models(NAME)``: one model's registry view."""
    import pandas as pd

    st = resolve_store(store)
    if name is None:
        # a name without versions (a policy set before the fix that refuses it) is not a model
        rows = [r for r in st.list_registered_models() if r["n_versions"]]
        for row in rows:
            aliases = st.get_aliases(row["name"])
            row["aliases"] = ", ".join(f"{a}=v{v}" for a, v in aliases.items())
            row["files"] = files_summary(st, row["name"])
        frame = pd.DataFrame(rows)
        for column in ("n_versions", "latest_version"):
            if column in frame:
                frame[column] = frame[column].astype(int)
        return ModelList(frame)
    name = check_name(name)
    require_model(st, name)
    frame = versions_frame(st, name)
    history = pd.DataFrame(
        st.alias_history(name),
        columns=[
            "alias",
            "version",
            "action",
            "start_at",
            "end_at",
            "who",
            "reason",
            "forced",
            "audit_id",
        ],
    )
    return RegisteredModel(
        name=name,
        versions=frame,
        aliases=st.get_aliases(name),
        history=history,
        policy=st.find_model_policy(name),
        store=st,
    )
