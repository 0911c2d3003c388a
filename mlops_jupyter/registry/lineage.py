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
        from ..capture.fingerprint import model_fingerprint as fp
    except ImportError:
        fp = None
    if fp is not None:
        try:
            value = fp(model)
            if value:
                return str(value)
        except Exception:
            pass
    import xxhash

    return xxhash.xxh3_128_hexdigest(fallback)


def data_fingerprint(obj: Any) -> str | None:
    try:
        from ..capture.fingerprint import fingerprint
    except ImportError:
        return None
    try:
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


def evaluated_fingerprints(store: Any, run_id: str | None) -> list[str]:
    """Datasets the run's metrics were computed on, most recent evaluation first."""
    if not run_id:
        return []
    edges = store.edges(run_id=run_id, relation="evaluated")
    return _unique(e["src_id"] for e in reversed(edges) if e["src_type"] == "dataset")


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
) -> list[tuple[str, Any]]:
    """``(name, object)`` in ``namespace`` whose fingerprint is one of ``fingerprints``.

    Ordered like ``fingerprints``. Names the store recorded for them are tried first; the rest
    of the namespace's arrays and frames only if some fingerprint is still unmatched.
    """
    if not fingerprints or not namespace:
        return []
    wanted = set(fingerprints)
    found: dict[str, tuple[str, Any]] = {}
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
            found[fp] = (name, obj)
    return [found[fp] for fp in fingerprints if fp in found]


def pick_xy(model: Any, objects: Iterable[tuple[str, Any]]) -> tuple[Any, Any, list[str]]:
    """The first 2-D object the model can predict on, and a 1-D one of the same length."""
    import numpy as np

    objs = list(objects)
    for name_x, X in objs:
        if getattr(X, "ndim", 0) != 2:
            continue
        try:
            model.predict(X[:2] if not hasattr(X, "iloc") else X.iloc[:2])
        except Exception:
            continue
        for name_y, y in objs:
            if getattr(y, "ndim", 0) == 1 and len(y) == len(X):
                return X, np.asarray(y), [name_x, name_y]
        return X, None, [name_x]
    return None, None, []


def pick_x(objects: Iterable[tuple[str, Any]]) -> tuple[Any, list[str]]:
    for name, X in objects:
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
