"""A model's monitoring policy: triggers, the retraining data rule, gates, auto or proposal.

A TOML file (``tomllib``, the standard library), or YAML when PyYAML is importable (it comes
with jupyter_server); every key is optional::

    alias = "production"          # the alias whose holder is monitored
    labels = "label"              # the label column, when a batch carries labels
    suite = "train"               # the data tests (default: the training dataset's suite)

    [triggers]
    drift_share = 0.5             # dataset drift: share of drifted feature columns
    metric = "accuracy"           # the metric watched (default: the first registered one)
    metric_drop = 0.05            # drop from the holder's registered value that triggers
    data_tests = true             # failed data tests trigger

    [retrain]
    bundle = "bundle"             # the model's bundle (relative to the policy file)
    data = "substitute"           # or "append": the batch replaces or extends the input
    input = "train.csv"           # which bundle input gets the batch (default: the only one)
    holdout = 0.3                 # share of the labelled batch kept out of training, for gates

    [promotion]
    mode = "proposal"             # or "auto": promote when the gates pass
    approvers = ["ana"]           # who may approve a proposal (empty: anyone)

    [gates]                       # set as the model's registry policy (audited) when changed
    metrics = { accuracy = ">= 0.8" }
    compare = { metric = "accuracy", mode = "better", margin = 0.0 }
    drift = true
    lineage = true
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from ..registry.stats import METRICS

DEFAULTS: dict[str, Any] = {
    "alias": "production",
    "labels": None,
    "suite": None,
    "triggers": {"drift_share": 0.5, "metric": None, "metric_drop": 0.05, "data_tests": True},
    "retrain": {"bundle": None, "data": "substitute", "input": None, "holdout": 0.3},
    "promotion": {"mode": "proposal", "approvers": []},
    "gates": None,
}
DATA_RULES = ("substitute", "append")
MODES = ("proposal", "auto")
EXAMPLE = "see `mlops-jupyter monitor --help` for a policy file example"


def _read(path: Path) -> dict[str, Any]:
    suffix = path.suffix.lower()
    text = path.read_bytes()
    if suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise InvalidInput(
                f"Cannot read the YAML policy {path}: PyYAML is not installed. "
                "Write the policy as TOML (policy.toml) instead."
            ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            first = str(exc).splitlines()[0] if str(exc) else "invalid YAML"
            raise InvalidInput(f"Cannot read the policy {path}: {first}. Fix the YAML.") from None
    elif suffix == ".toml":
        import tomllib

        try:
            data = tomllib.loads(text.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"Cannot read the policy {path}: {exc}. Fix the TOML.") from None
    else:
        raise InvalidInput(
            f"The policy {path} is neither .toml nor .yaml. Name it policy.toml ({EXAMPLE})."
        )
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise InvalidInput(f"The policy {path} must be a table of settings ({EXAMPLE}).")
    return dict(data)


def _number(value: Any, where: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidInput(
            f"The policy's {where} must be a number from {low:g} to {high:g}, got {value!r}. "
            f"Fix it in the policy file ({EXAMPLE})."
        )
    return float(value)


def load_policy(
    source: str | os.PathLike[str] | Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The policy as a complete, validated dict (a path, a dict, or None for the defaults).

    ``retrain.bundle`` is resolved against the policy file's folder.
    """
    base: Path | None = None
    if source is None:
        raw: dict[str, Any] = {}
    elif isinstance(source, Mapping):
        raw = dict(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise InvalidInput(f"No policy file {path}. Check the path ({EXAMPLE}).")
        raw = _read(path)
        base = path.resolve().parent
    unknown = set(raw) - set(DEFAULTS)
    if unknown:
        raise InvalidInput(
            f"Unknown policy settings {sorted(unknown)}. Use {', '.join(DEFAULTS)} ({EXAMPLE})."
        )
    policy: dict[str, Any] = {}
    for key, default in DEFAULTS.items():
        given = raw.get(key)
        if isinstance(default, dict):
            if given is not None and not isinstance(given, Mapping):
                raise InvalidInput(f"The policy's [{key}] must be a table ({EXAMPLE}).")
            extra = set(given or {}) - set(default)
            if extra:
                raise InvalidInput(
                    f"Unknown settings {sorted(extra)} in the policy's [{key}]. "
                    f"Use {', '.join(default)} ({EXAMPLE})."
                )
            policy[key] = {**default, **dict(given or {})}
        else:
            policy[key] = default if given is None else given
    for key in ("alias", "labels", "suite"):
        if policy[key] is not None and not isinstance(policy[key], str):
            raise InvalidInput(f"The policy's {key} must be text, got {policy[key]!r}.")
    trig = policy["triggers"]
    trig["drift_share"] = _number(trig["drift_share"], "triggers.drift_share", 0.01, 1.0)
    trig["metric_drop"] = _number(trig["metric_drop"], "triggers.metric_drop", 0.0, 1e12)
    trig["data_tests"] = bool(trig["data_tests"])
    if trig["metric"] is not None and trig["metric"] not in METRICS:
        raise InvalidInput(
            f"The policy's triggers.metric {trig['metric']!r} is not a metric the monitor "
            f"computes. Use one of {', '.join(METRICS)}."
        )
    ret = policy["retrain"]
    if ret["data"] not in DATA_RULES:
        raise InvalidInput(
            f"The policy's retrain.data must be 'substitute' or 'append', got {ret['data']!r}."
        )
    ret["holdout"] = _number(ret["holdout"], "retrain.holdout", 0.05, 0.9)
    if ret["bundle"] is not None:
        bundle = Path(str(ret["bundle"])).expanduser()
        ret["bundle"] = str(bundle if bundle.is_absolute() or base is None else base / bundle)
    prom = policy["promotion"]
    if prom["mode"] not in MODES:
        raise InvalidInput(
            f"The policy's promotion.mode must be 'proposal' or 'auto', got {prom['mode']!r}."
        )
    approvers = prom["approvers"]
    if isinstance(approvers, str):
        approvers = [approvers]
    if not isinstance(approvers, list) or not all(isinstance(a, str) for a in approvers):
        raise InvalidInput(
            f"The policy's promotion.approvers must be a list of names, got {approvers!r}."
        )
    prom["approvers"] = sorted(set(approvers))
    if policy["gates"] is not None:
        from ..registry.policy import normalise_policy

        gates = policy["gates"]
        if not isinstance(gates, Mapping) or set(gates) - {
            "metrics",
            "compare",
            "drift",
            "lineage",
        }:
            raise InvalidInput(
                "The policy's [gates] takes metrics, compare, drift and lineage, as "
                "mj.set_policy does."
            )
        policy["gates"] = normalise_policy(
            gates.get("metrics"),
            gates.get("compare"),
            bool(gates.get("drift", True)),
            bool(gates.get("lineage", True)),
        )
    return policy
