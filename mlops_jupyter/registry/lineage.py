"""What lineage knows about a model: its run, its training data, the data it was evaluated on.

The capture layer records edges ``dataset -trained_on-> model`` and ``dataset -evaluated->
metric``; datasets are content fingerprints. To snapshot the actual rows we look for objects
with those fingerprints in the notebook's namespace (names recorded for those datasets first).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import NotFound


def model_fingerprint(model: Any, fallback: bytes) -> str:
    """The capture layer's fingerprint of ``model``; the file's hash if capture is absent."""
    try:
        from ..capture.fingerprint import model_fingerprint as capture_fp

        value = capture_fp(model)
        if value:
            return str(value)
    except Exception:  # capture absent or the model unhashable: fall back to the file
        pass
    import xxhash

    return xxhash.xxh3_128_hexdigest(fallback)


def data_fingerprint(obj: Any) -> str | None:
    """Capture's content fingerprint, through the session's cache when capture is running."""
    try:
        session = sys.modules.get("mlops_jupyter.capture.session")
        if session is not None:
            return session.get_session().fp_cache.get(obj, fresh=False)
        from ..capture.fingerprint import fingerprint

        return fingerprint(obj)
    except Exception:
        return None


def session_store() -> Any | None:
    """The capture session's store when capture is loaded in this process, else None."""
    if "mlops_jupyter.capture.session" not in sys.modules:
        return None
    try:
        return sys.modules["mlops_jupyter.capture.session"].get_session().store
    except Exception:
        return None


def session_run_id() -> str | None:
    try:
        from ..capture.session import get_session
    except ImportError:
        return None
    try:
        return get_session().run_id
    except Exception:
        return None


def user_namespace() -> Mapping[str, Any]:
    """The IPython user namespace when running inside IPython, else empty."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return {}
    shell = ipython.get_ipython()
    return {} if shell is None else shell.user_ns


def captured_model(store: Any, fingerprint: str) -> dict[str, Any] | None:
    try:
        return dict(store.get_model(fingerprint))
    except NotFound:
        return None


def training_fingerprints(store: Any, fingerprint: str) -> list[str]:
    edges = store.edges(node=("model", fingerprint), relation="trained_on")
    return _unique(e["src_id"] for e in edges if e["src_type"] == "dataset")


def _model_evaluations(store: Any, fingerprint: str) -> list[tuple[str, Any]]:
    """``(metric node, execution id)`` of every metric computed from this model, newest first."""
    edges = store.edges(node=("model", fingerprint), relation="evaluated")
    return [(e["dst_id"], e["execution_id"]) for e in reversed(edges) if e["dst_type"] == "metric"]


def evaluated_fingerprints(
    store: Any, run_id: str | None, fingerprint: str
) -> tuple[list[str], set[str]]:
    """Datasets this model's metrics were computed from (most recent first), and the subset
    the evaluating cells read directly. Without model lineage: any metric of its run."""
    evaluations = _model_evaluations(store, fingerprint)
    found: list[str] = []
    direct: set[str] = set()
    for node, execution_id in evaluations:
        for e in store.edges(node=("metric", node), relation="evaluated"):
            if e["src_type"] == "dataset" and e["execution_id"] == execution_id:
                found.append(e["src_id"])
        if execution_id is not None:
            for e in store.edges(node=("execution", str(execution_id)), relation="read"):
                if e["src_type"] == "dataset":
                    direct.add(e["src_id"])
    if not found and run_id:
        edges = store.edges(run_id=run_id, relation="evaluated")
        found = [e["src_id"] for e in reversed(edges) if e["src_type"] == "dataset"]
    return _unique(found), direct


def model_metrics(store: Any, run_id: str | None, fingerprint: str) -> dict[str, float]:
    """The metric values computed from this model (the cell that computed each one)."""
    if not run_id:
        return {}
    out: dict[str, float] = {}
    for node, execution_id in _model_evaluations(store, fingerprint):
        run, _, key = str(node).rpartition(":")
        if run != run_id or key in out:
            continue
        points = [p for p in store.metric_history(run_id, key) if p["execution_id"] == execution_id]
        if points and points[-1]["value"] is not None:
            out[key] = float(points[-1]["value"])
    return out


def describe_datasets(store: Any, fingerprints: list[str]) -> list[dict[str, Any]]:
    """``[{name, version, fingerprint}]`` for each fingerprint (name None if never named)."""
    named = store.find_dataset_versions(fingerprints)
    out = []
    for fp in fingerprints:
        rows = [r for r in named if r["fingerprint"] == fp]
        if rows:
            last = rows[-1]
            out.append({"name": last["name"], "version": last["version"], "fingerprint": fp})
        else:
            out.append({"name": None, "version": None, "fingerprint": fp})
    return out


def find_objects(
    store: Any, fingerprints: list[str], namespace: Mapping[str, Any]
) -> list[tuple[str, Any, str]]:
    """``(name, object, fingerprint)`` in ``namespace`` for each of ``fingerprints`` found.

    Ordered like ``fingerprints``. Names the store recorded for them are tried first; the rest
    of the namespace's arrays and frames only if some fingerprint is still unmatched.
    """
    if not fingerprints or not namespace:
        return []
    wanted = set(fingerprints)
    found: dict[str, tuple[str, Any, str]] = {}
    preferred = [r["name"] for r in store.find_dataset_versions(fingerprints)]
    rest = [k for k in namespace if not k.startswith("_") and k not in preferred]
    for name in [*preferred, *rest]:
        if wanted <= set(found):
            break
        obj = namespace.get(name)
        if not _is_data(obj):
            continue
        fp = data_fingerprint(obj)
        if fp in wanted and fp not in found:
            found[fp] = (name, obj, fp)
    return [found[fp] for fp in fingerprints if fp in found]


def pick_xy(
    model: Any,
    objects: Iterable[tuple[str, Any, str]],
    *,
    training: set[str],
    direct: set[str],
    logged: Mapping[str, float],
) -> tuple[Any, Any, list[str]]:
    """The ``(X, y)`` the model's metrics were computed on, among lineage candidates.

    A pair scores when the model's metrics on it reproduce a logged value, when its objects
    were read directly by the evaluating cell, and when it is not training data. ``y`` equal to
    the model's own predictions (``y_pred``) is never a target.
    """
    import numpy as np

    from .evaldata import evaluate

    objs = list(objects)
    best: tuple[tuple[int, int], Any, Any, list[str]] | None = None
    for name_x, X, fp_x in objs:
        if getattr(X, "ndim", 0) != 2:
            continue
        try:
            pred = np.asarray(model.predict(X))
        except Exception:
            continue
        for name_y, y, fp_y in objs:
            if getattr(y, "ndim", 0) != 1 or len(y) != len(X):
                continue
            target = np.asarray(y)
            if target.shape == pred.shape and bool((target == pred).all()):
                continue  # the model's own predictions
            try:
                values = evaluate(model, X, target)
            except Exception:
                continue
            reproduces = any(
                abs(values[k] - float(v)) < 1e-6 for k, v in logged.items() if k in values
            )
            score = 8 * reproduces + 2 * (fp_x in direct) + 2 * (fp_y in direct)
            score += 4 * (fp_x not in training and fp_y not in training)
            key = (score, -len(X))
            if best is None or key > best[0]:
                best = (key, X, target, [name_x, name_y])
    if best is None:
        return None, None, []
    return best[1], best[2], best[3]


def pick_x(objects: Iterable[tuple[str, Any, str]]) -> tuple[Any, list[str]]:
    for name, X, _fp in objects:
        if getattr(X, "ndim", 0) == 2:
            return X, [name]
    return None, []


def _is_data(obj: Any) -> bool:
    mod = type(obj).__module__
    return mod.startswith(("pandas", "numpy")) and hasattr(obj, "shape") and hasattr(obj, "ndim")


def _unique(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(str(item), None)
    return list(seen)
