"""One monitor pass: a batch checked against a model's alias holder, and what follows.

    read + validate    the batch must be scorable by the holder (else one line, nothing stored)
    data tests         the training dataset's suite (label rules left out without labels)
    drift              against the holder's reference profile (its training features)
    performance        measured on labels; estimated without them (see .performance)
    triggers           drift share, metric drop, estimated drop, untrusted estimate, data tests
    retrain            the bundle re-run on the batch (see .retrain), registered
    gates              champion vs challenger on the held-out rows of the batch
    promote / propose  policy ``auto`` promotes, ``proposal`` records a proposal

Every step is an audit record carrying the batch's fingerprint: ``monitor`` (the verdict),
``register`` and ``retrain`` (or ``retrain_failed``), ``propose`` or ``promote``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, MlopsError, RegistryError
from ..store.base import dumps
from .batch import Batch, prepare_batch, read_batch, split_holdout
from .performance import UNTRUSTED, calibrator_for, drop_of, estimate, watched_metric
from .policy import load_policy
from .result import ACTION_NEEDED, HEALTHY, PROMOTED, PROPOSED, RETRAINED, MonitorResult, Trigger


def _features(st: Any, row: dict[str, Any], model: Any) -> list[str]:
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        return [str(n) for n in names]
    for key in ("train_fingerprint", "eval_fingerprint"):
        snap = st.find_eval_dataset(row.get(key))
        if snap is not None and snap["x_kind"] == "dataframe":
            return [str(c) for c in snap["feature_columns"]]
    raise InvalidInput(
        f"Cannot tell which columns {row['name']!r} v{row['version']} predicts from: it was "
        "fitted without feature names and registered without a DataFrame of training data. "
        "Register it with train_data=X (a DataFrame) to monitor it."
    )


def _trained_on_names(st: Any, row: dict[str, Any]) -> list[str]:
    """Names of the datasets the version's captured model was fitted on (lineage)."""
    from ..registry import lineage
    from .retrain import captured_models

    fps: list[str] = []
    for model in captured_models(st, row):
        fps += lineage.training_fingerprints(st, model["fingerprint"])
    return [str(r["name"]) for r in st.find_dataset_versions(fps) if r.get("name")]


def _suite(st: Any, row: dict[str, Any], wanted: str | None) -> Any:
    """The data tests for the batch: the policy's suite, else the first training dataset's
    (None when there is none)."""
    from ..analysis.expectations import suite_from_row

    if wanted:
        found = st.find_suite(wanted)
        if found is None:
            raise InvalidInput(
                f"No data-test suite {wanted!r}, which the policy names. Draft it with "
                f"`mlops-jupyter expect {wanted}`, or fix the policy's suite."
            )
    else:
        names = [d.get("name") for d in row.get("training_datasets") or [] if d.get("name")]
        names += _trained_on_names(st, row)
        found = next((s for s in (st.find_suite(n) for n in names) if s is not None), None)
        if found is None:
            return None
    return suite_from_row(found)


def _without_labels(suite: Any, features: list[str]) -> Any:
    """The suite's rules about the features (and the row count) only: a batch without labels
    is not failed for lacking its label column."""
    keep = set(features)
    rules = []
    for rule in suite.rules:
        if rule.kind == "columns":
            rules.append(
                dataclasses.replace(rule, columns=tuple(c for c in rule.columns if c in keep))
            )
        elif rule.column is None or rule.column in keep:
            rules.append(rule)
    return dataclasses.replace(suite, rules=tuple(rules))


def _with_tests(message: str, frame: Any, suite: Any, label: str) -> str:
    """A refusal that also says which data tests the batch fails (nothing is recorded)."""
    if suite is None or "cannot score" not in message:
        return message
    from ..analysis.checks import check_frame

    try:
        checked = check_frame(frame, suite, dataset=label)
    except Exception:
        return message
    return message if checked.passed else f"{message} {checked.summary()}"


def _checked_columns(b: Batch, suite: Any) -> Any:
    """The batch as its suite sees it: without the label column when the suite was drafted for
    the features alone (``X_train``), so the labels are not an unexpected column."""
    mentioned = {r.column for r in suite.rules} | {c for r in suite.rules for c in r.columns}
    if b.labels is not None and b.labels not in mentioned:
        return b.frame.drop(columns=[b.labels])
    return b.frame


def _reference(st: Any, name: str, row: dict[str, Any]) -> tuple[Any, str] | None:
    """The holder's drift reference: its stored profile (by label) or, the first time, its
    training features' snapshot (whose profile the drift report then stores)."""
    from ..registry.evaldata import read_snapshot

    for key, role in (("train_fingerprint", "training"), ("eval_fingerprint", "evaluation")):
        label = f"{name}.v{row['version']}.{role}"
        if st.find_drift_profile(label) is not None:
            return label, label
        snap = st.find_eval_dataset(row.get(key))
        if snap is not None:
            X = read_snapshot(st, snap).X
            if not hasattr(X, "columns"):
                import pandas as pd

                X = pd.DataFrame(X, columns=[str(c) for c in snap["feature_columns"]])
            return X, label
    return None


def _triggers(
    policy: dict[str, Any],
    drift_report: Any,
    checked: Any,
    metric: str,
    metrics: dict[str, float],
    reference: dict[str, Any],
    est: Any,
) -> list[Trigger]:
    trig = policy["triggers"]
    out = []
    if drift_report is not None:
        out.append(
            Trigger(
                "drift",
                bool(drift_report.drifted),
                f"{drift_report.n_drifted} of {drift_report.n_tested} columns "
                f"({drift_report.share:.0%})",
                f"share >= {trig['drift_share']:.0%}",
                ", ".join(drift_report.drifted_columns[:6]) or "no column drifted",
            )
        )
    limit = trig["metric_drop"]
    ref = reference.get(metric)
    if metric in metrics and ref is not None:
        drop = drop_of(metric, float(ref), metrics[metric])
        out.append(
            Trigger(
                "metric_drop",
                drop > limit,
                f"{metric} {metrics[metric]:.4g} (registered {float(ref):.4g})",
                f"drop > {limit:g}",
                f"{'down' if drop > 0 else 'up'} {abs(drop):.4g} on the batch's labels",
            )
        )
    elif not metrics and est.value is not None:
        ref_acc = reference.get("accuracy")
        if est.trust == UNTRUSTED:
            out.append(
                Trigger(
                    "estimate_untrusted",
                    True,
                    f"accuracy ~{est.value:.4g}",
                    "labels agree",
                    est.reason,
                )
            )
        elif ref_acc is not None:
            drop = float(ref_acc) - est.value
            out.append(
                Trigger(
                    "estimated_drop",
                    drop > limit,
                    f"accuracy ~{est.value:.4g} (registered {float(ref_acc):.4g})",
                    f"drop > {limit:g}",
                    f"estimated, {est.trust}: {est.reason}",
                )
            )
    if checked is not None and trig["data_tests"]:
        out.append(
            Trigger(
                "data_tests",
                not checked.passed,
                f"{checked.n_failed_rules} of {len(checked.rules)} rules failed",
                "all rules pass",
                checked.summary(),
            )
        )
    return out


def monitor(
    model: str,
    batch: Any,
    *,
    labels: str | None = None,
    bundle: str | None = None,
    policy: Any = None,
    retrain: bool = True,
    by: str | None = None,
    store: Any = None,
    progress: bool = False,
    name: str | None = None,
) -> MonitorResult:
    """Check one new batch of production data for ``model``'s alias holder, and act on it.

    ``batch``: a DataFrame, a csv/parquet path or a stored dataset ``NAME[@V]``. ``labels``:
    the batch's label column (measured performance; without it, an estimate where sound).
    ``policy``: a TOML/YAML file or a dict (:mod:`.policy`); ``bundle`` overrides its
    ``retrain.bundle``; ``name`` labels a DataFrame batch. Bad input raises before anything is
    stored. Returns a
    :class:`MonitorResult` (``.status``, ``.triggers``, ``.exit_code`` 0 healthy / 1 action).
    """
    from ..analysis.checks import check_frame
    from ..analysis.drift import drift as run_drift
    from ..analysis.suites import record_result
    from ..registry.audit import current_user
    from ..registry.evaldata import evaluate, predict
    from ..registry.versions import check_name, load_version, require_model, resolve_store

    st = resolve_store(store)
    label_given = name
    name = check_name(model)
    require_model(st, name)
    pol = load_policy(policy)
    if bundle is not None:
        pol["retrain"]["bundle"] = str(Path(bundle).resolve())
    if pol["retrain"]["bundle"] and not Path(pol["retrain"]["bundle"]).is_dir():
        raise InvalidInput(
            f"No bundle folder {pol['retrain']['bundle']} to retrain with. Export one with "
            "`mlops-jupyter export NOTEBOOK --to DIR`, or fix --bundle / retrain.bundle."
        )
    alias = pol["alias"]
    held = st.find_alias_holder(name, alias)
    if held is None:
        raise RegistryError(
            f"No version of {name!r} holds {alias!r}, so there is nothing to monitor. Promote "
            f"one first: `mlops-jupyter promote {name} VERSION --to {alias}`."
        )
    row = st.get_model_version(name, held)
    champion = load_version(st, row)
    features = _features(st, row, champion)
    frame, label = read_batch(st, batch, label_given)
    if labels is None and pol["labels"] and pol["labels"] in frame.columns:
        labels = pol["labels"]
    suite = _suite(st, row, pol["suite"])
    try:
        b = prepare_batch(frame, label, features, labels, champion)
    except InvalidInput as exc:
        raise InvalidInput(_with_tests(str(exc), frame, suite, label)) from None
    if suite is not None and b.labels is None:
        suite = _without_labels(suite, features)
    who = current_user(by)
    if pol["gates"] is not None and st.find_model_policy(name) != pol["gates"]:
        from ..registry.actions import set_policy

        g = pol["gates"]
        set_policy(
            name,
            metrics=g["metrics"],
            compare=g["compare"],
            drift=g["drift"],
            lineage=g["lineage"],
            by=who,
            store=st,
        )

    # -- checks (nothing below refuses the batch) -----------------------------------------
    notes: list[str] = []
    checked = None
    if suite is not None:
        checked = check_frame(
            _checked_columns(b, suite), suite, dataset=label, fingerprint=b.fingerprint
        )
        record_result(st, checked, name=None, version=None)
    else:
        notes.append("no data-test suite for the training data: data tests skipped")
    ref = _reference(st, name, row)
    report = None
    if ref is None:
        notes.append(f"v{held} has no stored training or evaluation features: drift skipped")
    else:
        report = run_drift(
            ref[0],
            b.X,
            model=name,
            drift_share=pol["triggers"]["drift_share"],
            save=True,
            store=st,
            reference_name=ref[1],
            current_name=label,
        )
    outputs = predict(champion, b.X)  # once: a million rows are not predicted twice
    metrics = evaluate(champion, b.X, b.y, outputs) if b.labels is not None else {}
    reference = {k: v for k, v in (row["metrics"] or {}).items() if v is not None}
    metric = watched_metric(row["task"], pol["triggers"]["metric"], reference)
    calibrator, why_not = calibrator_for(st, row, champion)
    earlier = [r for r in st.list_monitor_batches(name) if r["version"] == held]
    est = estimate(calibrator, why_not, outputs, b.y, earlier)
    triggers = _triggers(pol, report, checked, metric, metrics, reference, est)
    fired = [t.trigger for t in triggers if t.fired]
    status = HEALTHY if not fired else ACTION_NEEDED
    batch_row = st.record_monitor_batch(
        {
            "model_name": name,
            "alias": alias,
            "version": held,
            "batch_name": label,
            "batch_fingerprint": b.fingerprint,
            "n_rows": b.n_rows,
            "labelled": b.labels is not None,
            "drift_report_id": None if report is None else report.id,
            "drift_share": None if report is None else report.share,
            "drift_threshold": pol["triggers"]["drift_share"],
            "drifted": None if report is None else report.drifted,
            "data_tests_passed": None if checked is None else checked.passed,
            "data_tests": None
            if checked is None
            else {
                "suite": checked.suite,
                "suite_version": checked.suite_version,
                "n_rules": len(checked.rules),
                "n_failed_rules": checked.n_failed_rules,
                "summary": checked.summary(),
            },
            "metrics": metrics,
            "reference_metrics": reference,
            "estimate": est.to_dict(),
            "triggers": [t.to_dict() for t in triggers],
            "status": status,
            "notes": notes,
            "policy": pol,
        },
        audit={
            "action": "monitor",
            "who": who,
            "name": name,
            "to_version": held,
            "alias": alias,
            "reason": status,
            "details": dumps(
                {
                    "batch": label,
                    "batch_fingerprint": b.fingerprint,
                    "n_rows": b.n_rows,
                    "fired": fired,
                    "drift_share": None if report is None else report.share,
                    "metrics": metrics,
                    "estimate": est.value,
                }
            ),
        },
    )
    result = MonitorResult(
        model=name,
        alias=alias,
        version=held,
        batch=label,
        fingerprint=b.fingerprint,
        n_rows=b.n_rows,
        labelled=b.labels is not None,
        status=status,
        triggers=tuple(triggers),
        metric=metric,
        metrics=metrics,
        reference_metrics=reference,
        estimate=est,
        drift=report,
        data_tests=checked,
        batch_id=int(batch_row["id"]),
        notes=tuple(notes),
    )
    if not fired:
        return result
    return _act(st, result, row, b, pol, who, retrain=retrain, progress=progress)


# Rules about the distribution (ranges, row counts) are expected to fail on drifted data, which
# is what retraining adapts to; the others (columns, types, nulls, categories, keys) mean the
# data is broken and must not be trained on.
DISTRIBUTION_RULES = frozenset({"between", "rows"})


def _integrity_failures(checked: Any) -> list[str]:
    if checked is None or checked.passed:
        return []
    failed = checked.failed
    return [
        str(text)
        for rid, text in zip(failed["id"], failed["rule"])
        if str(rid).rpartition(":")[2] not in DISTRIBUTION_RULES
    ]


def _why_not_retrain(result: MonitorResult, b: Batch, pol: dict[str, Any], retrain: bool) -> str:
    if not retrain:
        return "Retraining was not asked for (--no-retrain)."
    broken = _integrity_failures(result.data_tests)
    if broken:
        return (
            f"Not retrained: the batch breaks data tests it must pass to be trained on "
            f"({', '.join(broken[:4])}); fix the data or the suite."
        )
    if b.labels is None:
        return "Not retrained: the batch has no labels to train on (pass --labels COL)."
    if not pol["retrain"]["bundle"]:
        return "Not retrained: no bundle to retrain with (pass --bundle DIR or retrain.bundle)."
    return ""


def _act(
    st: Any,
    result: MonitorResult,
    row: dict[str, Any],
    b: Batch,
    pol: dict[str, Any],
    who: str,
    *,
    retrain: bool,
    progress: bool,
) -> MonitorResult:
    """Retrain, gate, then promote or propose; each step audited, the batch row updated."""
    from ..registry.actions import promote
    from ..registry.gates import check_gates
    from .retrain import retrain as run_retrain

    why = _why_not_retrain(result, b, pol, retrain)
    if why:
        st.update_monitor_batch(int(result.batch_id or 0), notes=[*result.notes, why])
        return dataclasses.replace(result, actions=(why,))
    name, alias, fp = result.model, result.alias, result.fingerprint
    base = {"batch": result.batch, "batch_fingerprint": fp, "monitor_batch": result.batch_id}
    holdout = split_holdout(b.n_rows, pol["retrain"]["holdout"], fp)
    try:
        done = run_retrain(
            st,
            name=name,
            holder=row,
            batch=b,
            holdout=holdout,
            policy=pol,
            bundle=Path(pol["retrain"]["bundle"]),
            who=who,
            progress=progress,
        )
    except MlopsError as exc:
        st.append_audit(
            {
                "action": "retrain_failed",
                "who": who,
                "name": name,
                "from_version": result.version,
                "alias": alias,
                "reason": str(exc)[:500],
                "details": dumps(base),
            }
        )
        message = f"Retraining failed: {exc}"
        st.update_monitor_batch(int(result.batch_id or 0), notes=[*result.notes, message])
        return dataclasses.replace(result, actions=(message,))
    st.append_audit(
        {
            "action": "retrain",
            "who": who,
            "name": name,
            "from_version": result.version,
            "to_version": done.version,
            "alias": alias,
            "reason": f"triggers fired: {', '.join(result.fired)}",
            "details": dumps(
                {
                    **base,
                    "run_id": done.run_id,
                    "rule": done.rule,
                    "n_train": done.n_train,
                    "n_holdout": done.n_holdout,
                    "bundle": pol["retrain"]["bundle"],
                }
            ),
        }
    )
    actions = [
        f"Retrained v{done.version} (run {done.run_id}, {done.rule}, {done.n_train} training rows)."
    ]
    gates = check_gates(name, done.version, alias, store=st)
    status, proposal_id, promotion = RETRAINED, None, gates
    if not gates.passed:
        actions.append(f"Gates failed, v{result.version} stays: {gates.summary()}")
    elif pol["promotion"]["mode"] == "auto":
        promotion = promote(
            name,
            done.version,
            alias,
            reason=f"monitor: retrained on {result.batch}",
            by=who,
            store=st,
            details=base,
        )
        status = PROMOTED if promotion.moved else RETRAINED
        actions.append(promotion.summary())
    else:
        proposal = st.create_proposal(
            {
                "model_name": name,
                "alias": alias,
                "version": done.version,
                "from_version": result.version,
                "batch_id": result.batch_id,
                "batch_fingerprint": fp,
                "gates": gates.gate_records(),
                "summary": gates.summary(),
                "approvers": pol["promotion"]["approvers"],
                "created_by": who,
            },
            audit={
                "action": "propose",
                "who": who,
                "name": name,
                "from_version": result.version,
                "to_version": done.version,
                "alias": alias,
                "reason": gates.summary(),
                "gates": dumps({"passed": True, "gates": gates.gate_records()}),
                "details": dumps(base),
            },
        )
        proposal_id = int(proposal["id"])
        status = PROPOSED
        actions.append(
            f"Gates passed; proposal {proposal_id} awaits approval: "
            f"mlops-jupyter approve {proposal_id} --reason TEXT."
        )
    st.update_monitor_batch(
        int(result.batch_id or 0),
        status=status,
        retrained_version=done.version,
        retrain_run_id=done.run_id,
        proposal_id=proposal_id,
    )
    return dataclasses.replace(
        result,
        status=status,
        retrained_version=done.version,
        retrain_run_id=done.run_id,
        promotion=promotion,
        proposal_id=proposal_id,
        actions=tuple(actions),
    )
