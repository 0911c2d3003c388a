"""Promotion gates: what a version must pass to take an alias.

Gates, in order (each a row of ``PromotionResult.gates``: gate, figure, threshold, verdict,
detail; verdict is ``pass``, ``fail``, ``skipped`` or ``info``):

1. ``metric:<key>``: the version's recorded metric against the policy's condition.
2. ``champion_vs_challenger``: the candidate and the alias's current holder predict the same
   stored evaluation rows; the paired bootstrap CI of the metric difference decides (``mode``
   ``not_worse``: the CI's worse end stays within ``margin``; ``better``: it clears ``margin``).
3. ``mcnemar`` (classifiers): McNemar's test on the rows where exactly one model is right;
   decisive in ``better`` mode, informative otherwise.
4. ``drift``: no drift between the candidate's training features and the evaluation features.
5. ``lineage``: the training data and the code (captured cells) behind the version are known.

:func:`check_gates` computes them without moving anything (the panel's "Check gates");
:mod:`mlops_jupyter.registry.actions` acts on the result.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ArtifactNotFound, RegistryError, UnsafeModel
from .evaldata import binarise, evaluate, predict, read_snapshot
from .integrity import check_artifact, check_snapshot, vouched
from .policy import DEFAULT_POLICY, check_condition, normalise_policy, parse_condition
from .stats import BootstrapResult, McNemarResult, mcnemar, paired_bootstrap
from .versions import check_name, load_version, require_model, resolve_store, resolve_version

PASS, FAIL, SKIPPED, INFO = "pass", "fail", "skipped", "info"
GATE_COLUMNS = ["gate", "figure", "threshold", "verdict", "detail"]


@dataclass(frozen=True)
class PromotionResult:
    """What a promotion (or a gate check) found, and whether the alias moved."""

    name: str
    version: int
    alias: str
    from_version: int | None
    passed: bool
    gates: Any  # DataFrame: gate, figure, threshold, verdict, detail
    moved: bool = False
    forced: bool = False
    reason: str | None = None
    comparison: Any = None  # DataFrame: role, version, <metric> on the shared eval rows
    bootstrap: BootstrapResult | None = field(default=None, repr=False)
    mcnemar: McNemarResult | None = None
    audit_id: int | None = None

    def failed_gates(self) -> list[str]:
        return [g for g, v in zip(self.gates["gate"], self.gates["verdict"]) if v == FAIL]

    def summary(self) -> str:
        """One line: the verdict, each failed gate with what it is missing, where the alias is."""
        verdict = "passed" if self.passed else "failed"
        head = f"{self.name} v{self.version} -> {self.alias}: gates {verdict}"
        failed = [
            f"{g}: {_short(d)}"
            for g, v, d in zip(self.gates["gate"], self.gates["verdict"], self.gates["detail"])
            if v == FAIL
        ]
        if failed:
            head += f" ({'; '.join(failed)})"
        if self.moved:
            held = f"v{self.from_version}" if self.from_version else "nobody"
            head += f"; alias moved from {held}" + (" (forced)" if self.forced else "")
        elif self.audit_id is not None:
            head += "; alias not moved"
        return head + "."

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return f"{self.summary()}\n{self.gates.to_string(index=False)}"

    def plot(self) -> Any:
        from ..display.registry import comparison_figure

        return comparison_figure(self)

    def to_html(self) -> str:
        from ..display.registry import promotion_html

        return promotion_html(self)

    def _repr_html_(self) -> str:
        return self.to_html()

    def gate_records(self) -> list[dict[str, Any]]:
        return [
            {k: (None if _isnan(v) else v) for k, v in row.items()}
            for row in self.gates.to_dict("records")
        ]


def _short(text: Any, limit: int = 240) -> str:
    text = str(text or "")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _isnan(value: Any) -> bool:
    return isinstance(value, float) and value != value


def _row(gate: str, figure: Any, threshold: Any, verdict: str, detail: str) -> dict[str, Any]:
    return {
        "gate": gate,
        "figure": figure,
        "threshold": threshold,
        "verdict": verdict,
        "detail": detail,
    }


def _signed(x: float) -> str:
    return f"{x:+.4f}"


def snapshot_problem(
    st: Any, version: dict[str, Any], row: dict[str, Any], role: str
) -> str | None:
    """Why a version's stored ``role`` snapshot ("eval" or "train") cannot be trusted, or None."""
    details = vouched(st, version["name"], version["version"]) or {}
    problem = check_snapshot(st, row, details.get(f"{role}_sha256"))
    return None if problem is None else f"the {role} data of v{version['version']}: {problem}"


# -- the gates --------------------------------------------------------------------------------


def _metric_gates(version: dict[str, Any], policy: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    metrics = version["metrics"]
    for key, expr in policy["metrics"].items():
        op, threshold = parse_condition(key, expr)
        value = metrics.get(key)
        if value is None:
            rows.append(
                _row(
                    f"metric:{key}",
                    None,
                    expr,
                    FAIL,
                    f"v{version['version']} has no recorded {key!r}; log it in the run or pass "
                    "metrics= when registering",
                )
            )
            continue
        ok = check_condition(float(value), op, threshold)
        rows.append(
            _row(
                f"metric:{key}",
                round(float(value), 6),
                expr,
                PASS if ok else FAIL,
                f"{key} = {float(value):.4g} {'meets' if ok else 'misses'} {expr}",
            )
        )
    return rows


@dataclass
class _Comparison:
    rows: list[dict[str, Any]]
    frame: Any = None
    bootstrap: BootstrapResult | None = None
    mcnemar: McNemarResult | None = None


def _champion_gates(
    st: Any, candidate: dict[str, Any], holder: dict[str, Any] | None, policy: dict[str, Any]
) -> _Comparison:
    import pandas as pd

    gate = "champion_vs_challenger"
    cmp = policy["compare"]
    if holder is None:
        return _Comparison([_row(gate, None, None, SKIPPED, "the alias has no holder yet")])
    # fail closed: a comparison that cannot be made stops the promotion, saying what is missing
    owner, eval_row = candidate, st.find_eval_dataset(candidate["eval_fingerprint"])
    if eval_row is None or not eval_row["target_column"]:
        owner, eval_row = holder, st.find_eval_dataset(holder["eval_fingerprint"])
    if eval_row is None or not eval_row["target_column"]:
        missing = (
            f"missing: stored evaluation data with targets for v{candidate['version']} or the "
            f"champion v{holder['version']}; register with eval_data=(X, y), or force with a reason"
        )
        return _Comparison([_row(gate, None, None, FAIL, missing)])
    problem = snapshot_problem(st, owner, eval_row, "eval")
    if problem is not None:
        return _Comparison([_row(gate, None, None, FAIL, problem)])
    if candidate["task"] != holder["task"]:
        return _Comparison(
            [
                _row(
                    gate,
                    None,
                    None,
                    FAIL,
                    f"candidate is a {candidate['task']} model, the holder a {holder['task']} one",
                )
            ]
        )
    try:  # only allow-listed types, after the files' sha256 matched the audit trail
        models = [load_version(st, v) for v in (candidate, holder)]
    except (UnsafeModel, ArtifactNotFound) as exc:
        detail = f"missing: a loadable champion and challenger ({exc})"
        return _Comparison([_row(gate, None, None, FAIL, detail)])
    snap = read_snapshot(st, eval_row)
    y = np.asarray(snap.y)
    try:
        outputs = [predict(m, snap.X) for m in models]
    except Exception as exc:
        return _Comparison(
            [
                _row(
                    gate,
                    None,
                    None,
                    FAIL,
                    f"a model cannot predict the evaluation data ({type(exc).__name__}: {exc})",
                )
            ]
        )
    classification = candidate["task"] == "classification"
    binary = classification and all(
        getattr(m, "classes_", None) is not None and len(m.classes_) == 2 for m in models
    )
    metric = cmp["metric"] or ("accuracy" if classification else "r2")
    note = ""
    if metric in ("auc", "f1") and not binary:
        note, metric = f"{metric} needs a binary classifier; compared on accuracy. ", "accuracy"
    if metric == "auc" and any(score is None for _, score in outputs):
        note, metric = "auc needs scores; compared on accuracy. ", "accuracy"
    if classification != (metric in ("accuracy", "error", "auc", "f1")):
        return _Comparison(
            [_row(gate, None, None, FAIL, f"{metric!r} does not fit a {candidate['task']} model")]
        )
    pairs: list[tuple[Any, Any]] = []
    y_eval = y
    for m, (pred, score) in zip(models, outputs):
        if binary:
            y_eval, pred = binarise(m, y, pred)
        pairs.append((pred, score))
    boot = paired_bootstrap(
        metric,
        y_eval,
        pairs[0],
        pairs[1],
        n_resamples=cmp["n_resamples"],
        confidence=cmp["confidence"],
    )
    sign = 1.0 if boot.higher_is_better else -1.0
    # the improvement's CI (positive = candidate better), whatever the metric's direction
    worst = min(sign * boot.ci_low, sign * boot.ci_high)
    margin, mode = cmp["margin"], cmp["mode"]
    if mode == "not_worse":
        ok = worst >= -margin
        threshold = f"CI worse end >= {-margin:g} (not worse by more than {margin:g})"
    else:
        ok = worst > margin
        threshold = f"CI worse end > {margin:g} (significantly better)"
    pct = round(boot.confidence * 100)
    rows = [
        _row(
            gate,
            f"{_signed(boot.difference)} [{_signed(boot.ci_low)}, {_signed(boot.ci_high)}]",
            threshold,
            PASS if ok else FAIL,
            f"{note}{metric}: v{candidate['version']} {boot.candidate:.4f} vs "
            f"v{holder['version']} {boot.champion:.4f} on {len(y)} rows; {pct}% CI of the "
            f"difference from {boot.n_resamples} paired resamples",
        )
    ]
    test = None
    if classification:
        test = mcnemar(y, outputs[0][0], outputs[1][0])
        alpha = 1.0 - cmp["confidence"]
        wins = test.candidate_only > test.champion_only
        if mode == "better":
            verdict = PASS if (test.p_value < alpha and wins) else FAIL
            mthreshold = f"p < {alpha:g} with the candidate right more often"
        else:
            verdict, mthreshold = INFO, f"informative (decisive in mode 'better', p < {alpha:g})"
        rows.append(
            _row(
                "mcnemar",
                f"p = {test.p_value:.4g}",
                mthreshold,
                verdict,
                f"only the candidate right on {test.candidate_only} rows, only the champion on "
                f"{test.champion_only} ({test.method} test)",
            )
        )
    records = []
    for role, row, model in (("challenger", candidate, models[0]), ("champion", holder, models[1])):
        rec: dict[str, Any] = {"role": role, "version": row["version"], "rows": len(y)}
        with contextlib.suppress(Exception):  # informative only: the gate already decided
            rec.update(evaluate(model, snap.X, y))
        records.append(rec)
    records[0][metric], records[1][metric] = boot.candidate, boot.champion
    frame = pd.DataFrame(records)
    return _Comparison(rows, frame, boot, test)


def _drift_gate(st: Any, candidate: dict[str, Any], policy: dict[str, Any]) -> dict[str, Any]:
    gate = "drift"
    if not policy["drift"]:
        return _row(gate, None, None, SKIPPED, "turned off by the policy")
    train = st.find_eval_dataset(candidate["train_fingerprint"])
    evaluation = st.find_eval_dataset(candidate["eval_fingerprint"])
    if train is None or evaluation is None:
        return _row(
            gate,
            None,
            None,
            FAIL,
            "missing: the training or evaluation features of the version; pass train_data= and "
            "eval_data= when registering, or turn the gate off with set_policy(drift=False)",
        )
    for row, role in ((train, "train"), (evaluation, "eval")):
        problem = snapshot_problem(st, candidate, row, role)
        if problem is not None:
            return _row(gate, None, None, FAIL, problem)
    from ..analysis.drift import drift as drift_engine

    reference, current = read_snapshot(st, train).X, read_snapshot(st, evaluation).X
    return drift_verdict(drift_engine, reference, current)


def drift_verdict(engine: Any, reference: Any, current: Any) -> dict[str, Any]:
    """Run the drift engine on two feature tables (nothing saved) and make it a gate row."""
    import pandas as pd

    if not isinstance(reference, pd.DataFrame):
        reference = pd.DataFrame(reference, columns=[f"x{i}" for i in range(reference.shape[1])])
        current = pd.DataFrame(current, columns=list(reference.columns))
    try:
        report = engine(
            reference,
            current,
            save=False,
            reference_name="training features",
            current_name="evaluation features",
        )
    except Exception as exc:  # the gate reports it rather than breaking the promotion
        return _row("drift", None, None, FAIL, f"drift could not be computed: {exc}")
    names = list(report.drifted_columns)
    figure = f"{report.n_drifted} of {report.n_tested} columns"
    threshold = f"share of drifted columns < {report.drift_share:g}"
    if report.drifted:
        detail = "training and evaluation features drifted: " + ", ".join(names[:5])
        return _row("drift", figure, threshold, FAIL, detail)
    detail = "no dataset drift between training and evaluation features"
    if names:
        detail += f" ({', '.join(names[:5])} moved)"
    return _row("drift", figure, threshold, PASS, detail)


def _lineage_gate(st: Any, candidate: dict[str, Any], policy: dict[str, Any]) -> dict[str, Any]:
    gate = "lineage"
    if not policy["lineage"]:
        return _row(gate, None, None, SKIPPED, "turned off by the policy")
    n_data = len(candidate["training_datasets"])
    n_cells = st.count_run_executions(candidate["run_id"])
    missing = []
    if n_data == 0:
        missing.append("training data unknown (no trained_on lineage, no train_data=)")
    if n_cells == 0:
        missing.append("code unknown (no captured cells in the version's run)")
    figure = f"{n_data} datasets, {n_cells} cells"
    detail = "; ".join(missing) or f"trained on {n_data} dataset(s); run {candidate['run_id']}"
    return _row(gate, figure, "data and code known", FAIL if missing else PASS, detail)


# -- public API -------------------------------------------------------------------------------


def effective_policy(st: Any, name: str) -> dict[str, Any]:
    stored = st.find_model_policy(name)
    if stored is None:
        return normalise_policy(**{k: v for k, v in DEFAULT_POLICY.items()})
    return stored


def check_gates(name: str, version: int | str, alias: str, *, store: Any = None) -> PromotionResult:
    """Run the gates for promoting ``version`` to ``alias`` without moving anything."""
    import pandas as pd

    st = resolve_store(store)
    name, alias = check_name(name), check_name(alias, "alias", new=True)
    require_model(st, name)
    candidate = resolve_version(st, name, version)  # a number or "latest"
    # forcing a promotion skips gates, never integrity: a missing or changed file is refused
    check_artifact(st, candidate, doing="it cannot be promoted")
    number = int(candidate["version"])
    held = st.find_alias_holder(name, alias)
    if held == number:
        raise RegistryError(
            f"Version {number} of {name!r} already holds {alias!r}. "
            "Nothing to promote; pick another version or alias."
        )
    holder = st.get_model_version(name, held) if held is not None else None
    policy = effective_policy(st, name)
    comparison = _champion_gates(st, candidate, holder, policy)
    rows = [
        *_metric_gates(candidate, policy),
        *comparison.rows,
        _drift_gate(st, candidate, policy),
        _lineage_gate(st, candidate, policy),
    ]
    gates = pd.DataFrame(rows, columns=GATE_COLUMNS)
    return PromotionResult(
        name=name,
        version=number,
        alias=alias,
        from_version=held,
        passed=not (gates["verdict"] == FAIL).any(),
        gates=gates,
        comparison=comparison.frame,
        bootstrap=comparison.bootstrap,
        mcnemar=comparison.mcnemar,
    )
