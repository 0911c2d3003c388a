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
from .checks import (
    checked_columns,
    drift_reference,
    features_of,
    find_suite,
    integrity_failures,
    triggers_of,
    unrecorded,
    with_tests,
    without_labels,
)
from .decide import sync_gates
from .performance import calibrator_for, estimate, watched_metric
from .policy import load_policy
from .result import ACTION_NEEDED, HEALTHY, MonitorResult


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
    with unrecorded():
        return _monitor(
            model,
            batch,
            labels=labels,
            bundle=bundle,
            policy=policy,
            retrain=retrain,
            by=by,
            store=store,
            progress=progress,
            name=name,
        )


def _monitor(
    model: str,
    batch: Any,
    *,
    labels: str | None,
    bundle: str | None,
    policy: Any,
    retrain: bool,
    by: str | None,
    store: Any,
    progress: bool,
    name: str | None,
) -> MonitorResult:
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
    features = features_of(st, row, champion)
    frame, label = read_batch(st, batch, label_given)
    if labels is None and pol["labels"] and pol["labels"] in frame.columns:
        labels = pol["labels"]
    suite, suite_note = find_suite(st, row, pol["suite"])
    try:
        b = prepare_batch(frame, label, features, labels, champion)
    except InvalidInput as exc:
        raise InvalidInput(with_tests(str(exc), frame, suite, label)) from None
    if suite is not None and b.labels is None:
        suite = without_labels(suite, features)
    who = current_user(by)
    sync_gates(st, name, pol, who)

    # -- checks (nothing below refuses the batch) -----------------------------------------
    notes: list[str] = []
    checked = None
    if suite is not None:
        checked = check_frame(
            checked_columns(b, suite), suite, dataset=label, fingerprint=b.fingerprint
        )
        record_result(st, checked, name=None, version=None)
    else:
        notes.append(suite_note or "no data-test suite for the training data: data tests skipped")
    ref = drift_reference(st, name, row)
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
    triggers = triggers_of(pol, report, checked, metric, metrics, reference, est)
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


def _why_not_retrain(result: MonitorResult, b: Batch, pol: dict[str, Any], retrain: bool) -> str:
    if not retrain:
        return "Retraining was not asked for (--no-retrain)."
    broken = integrity_failures(result.data_tests)
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
    from .decide import decide
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
    decision = decide(
        st,
        name=name,
        alias=alias,
        version=done.version,
        from_version=result.version,
        policy=pol,
        who=who,
        reason=f"monitor: retrained on {result.batch}",
        details=base,
        batch_id=result.batch_id,
    )
    actions.append(decision.action)
    status, promotion, proposal_id = decision.status, decision.promotion, decision.proposal_id
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
