"""What a monitor pass checks a batch with: the holder's features, its data-test suite, its drift
reference, and the triggers each finding fires."""

from __future__ import annotations

import dataclasses
from typing import Any

from ..errors import InvalidInput
from .batch import Batch
from .performance import UNTRUSTED, drop_of
from .result import Trigger


def unrecorded() -> Any:
    """Capture's :func:`~mlops_jupyter.capture.instrument.unrecorded` when capture runs in
    this process (a notebook), else nothing: the pass's own fits and predictions are not the
    user's cells' models and datasets."""
    import contextlib
    import sys

    instrument = sys.modules.get("mlops_jupyter.capture.instrument")
    return instrument.unrecorded() if instrument is not None else contextlib.nullcontext()


def features_of(st: Any, row: dict[str, Any], model: Any) -> list[str]:
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


def _training_refs(st: Any, row: dict[str, Any]) -> list[tuple[str, str]]:
    """``(name, fingerprint)`` of the datasets the version was trained on: its registered
    training data, and what lineage says its captured model was fitted on."""
    from ..registry import lineage
    from .retrain import captured_models

    fps = [
        str(d["fingerprint"]) for d in row.get("training_datasets") or [] if d.get("fingerprint")
    ]
    for model in captured_models(st, row):
        fps += lineage.training_fingerprints(st, model["fingerprint"])
    return [
        (str(r["name"]), str(r["fingerprint"]))
        for r in st.find_dataset_versions(list(dict.fromkeys(fps)))
        if r.get("name")
    ]


def _drafted_from(st: Any, name: str, fingerprints: set[str]) -> dict[str, Any] | None:
    """The latest version of suite ``name`` when one of its versions was drafted from one of
    ``fingerprints``; a suite is named after a dataset name, which other notebooks sharing the
    store may use for other data (``X_train``)."""
    latest = st.find_suite(name)
    if latest is None:
        return None
    for version in range(int(latest["version"]), 0, -1):
        found = st.find_suite(name, version)
        if found is not None and found.get("based_on") in fingerprints:
            return latest
    return None


def find_suite(st: Any, row: dict[str, Any], wanted: str | None) -> tuple[Any, str | None]:
    """``(suite or None, note)``: the policy's suite, else the suite of a dataset the version was
    trained on, drafted from data the model (this version or an earlier one) was trained on; a
    suite of the same name drafted from other data is not used, and the note says so."""
    from ..analysis.expectations import suite_from_row

    if wanted:
        found = st.find_suite(wanted)
        if found is None:
            raise InvalidInput(
                f"No data-test suite {wanted!r}, which the policy names. Draft it with "
                f"`mlops-jupyter expect {wanted}`, or fix the policy's suite."
            )
        return suite_from_row(found), None
    refs = _training_refs(st, row)
    names = list(dict.fromkeys(n for n, _ in refs))
    # drafted from data this model was trained on, in this version or an earlier one (a retrain
    # keeps the suite its first version's training data drafted)
    fps = {fp for _, fp in refs}
    for version in st.list_model_versions(row["name"]):
        if int(version["version"]) < int(row["version"]):
            fps |= {fp for _, fp in _training_refs(st, version)}
    for name in names:
        found = _drafted_from(st, name, fps)
        if found is not None:
            return suite_from_row(found), None
    others = [n for n in names if st.find_suite(n) is not None]
    if others:
        return None, (
            f"the suite {others[0]!r} was drafted from other data than v{row['version']} was "
            "trained on, so it was not used; name the suite in the policy (suite = ...) to use it"
        )
    return None, None


def without_labels(suite: Any, features: list[str]) -> Any:
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


def with_tests(message: str, frame: Any, suite: Any, label: str) -> str:
    """A refusal that also says which data tests the batch fails (nothing is recorded)."""
    if suite is None or "cannot score" not in message:
        return message
    from ..analysis.checks import check_frame

    try:
        checked = check_frame(frame, suite, dataset=label)
    except Exception:
        return message
    return message if checked.passed else f"{message} {checked.summary()}"


def checked_columns(b: Batch, suite: Any) -> Any:
    """The batch as its suite sees it: without the label column when the suite was drafted for
    the features alone (``X_train``), so the labels are not an unexpected column."""
    mentioned = {r.column for r in suite.rules} | {c for r in suite.rules for c in r.columns}
    if b.labels is not None and b.labels not in mentioned:
        return b.frame.drop(columns=[b.labels])
    return b.frame


def drift_reference(st: Any, name: str, row: dict[str, Any]) -> tuple[Any, str] | None:
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


def triggers_of(
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


# Rules about the distribution (ranges, row counts) are expected to fail on drifted data, which
# is what retraining adapts to; the others (columns, types, nulls, categories, keys) mean the
# data is broken and must not be trained on.
DISTRIBUTION_RULES = frozenset({"between", "rows"})


def integrity_failures(checked: Any) -> list[str]:
    if checked is None or checked.passed:
        return []
    failed = checked.failed
    return [
        str(text)
        for rid, text in zip(failed["id"], failed["rule"])
        if str(rid).rpartition(":")[2] not in DISTRIBUTION_RULES
    ]
