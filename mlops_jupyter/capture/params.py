"""Param values that read the same in every session, and which estimator params are defaults.

:func:`stable` turns any value into a JSON scalar that does not depend on the process: never an
object address (``<function f at 0x7f...>``). Functions and classes become their dotted name,
estimators their class name, scipy distributions their name and parameters
(``loguniform(a=0.001, b=1000.0)``), small containers compact JSON-like text.

:func:`estimator_params` flattens ``get_params(deep=True)`` the way scikit-learn names nested
params (``logisticregression__C``) and tells, for each, whether it still holds the default of
its estimator's ``__init__`` (compared like scikit-learn's own "changed params" repr).
"""

from __future__ import annotations

import functools
import inspect
import math
import sys
from typing import Any

MAX_TEXT = 200


def stable(value: Any, depth: int = 0) -> Any:
    """A JSON scalar for ``value`` that is the same in any session."""
    if value is None or isinstance(value, (bool, str)):
        return value if not isinstance(value, str) else _cut(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value
    item = getattr(value, "item", None)
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.generic) and callable(item):
        try:
            return stable(item(), depth)
        except (TypeError, ValueError):
            pass
    return _cut(_text(value, depth))


def _text(value: Any, depth: int) -> str:
    if isinstance(value, type):
        return value.__qualname__
    if _is_estimator(value):
        return type(value).__name__
    dist = getattr(value, "dist", None)
    if dist is not None and hasattr(value, "args") and hasattr(dist, "name"):
        args = [_inner(a, depth) for a in getattr(value, "args", ())]
        args += [f"{k}={_inner(v, depth)}" for k, v in sorted(getattr(value, "kwds", {}).items())]
        return f"{dist.name}({', '.join(args)})"
    if callable(value) and hasattr(value, "__qualname__"):
        module = getattr(value, "__module__", None) or ""
        return f"{module}.{value.__qualname__}" if module else value.__qualname__
    if isinstance(value, functools.partial):
        return f"partial({_text(value.func, depth)})"
    if isinstance(value, dict):
        inner = ", ".join(f"{_inner(k, depth)}: {_inner(v, depth)}" for k, v in value.items())
        return "{" + inner + "}"
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        inner = ", ".join(_inner(v, depth) for v in items)
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.ndarray):
        if value.size <= 20:
            return _text(value.tolist(), depth)
        return f"array(shape={value.shape}, dtype={value.dtype})"
    text = repr(value)
    if " at 0x" in text or "object at" in text:
        return type(value).__qualname__
    return text


def _inner(value: Any, depth: int) -> str:
    if depth > 3:
        return "..."
    if isinstance(value, str):
        return repr(value)
    out = stable(value, depth + 1)
    return str(out) if not isinstance(out, str) else out


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _is_estimator(value: Any) -> bool:
    base = sys.modules.get("sklearn.base")
    if base is not None and isinstance(value, base.BaseEstimator):
        return True
    return hasattr(value, "get_params") and hasattr(value, "fit") and not isinstance(value, type)


# -- estimator params ------------------------------------------------------------------------


def estimator_params(est: Any) -> dict[str, tuple[Any, bool]]:
    """``{key: (stable value, is_default)}`` for every param of ``est``, nested ones included.

    Lists of ``(name, estimator)`` steps (``Pipeline.steps``, ``ColumnTransformer``'s
    ``transformers``) become the list of step names: each step's own params follow under
    ``name__param``.
    """
    try:
        deep = est.get_params(deep=True)
    except Exception:
        try:
            deep = est.get_params()
        except Exception:
            return {}
    out: dict[str, tuple[Any, bool]] = {}
    for key, value in deep.items():
        owner_key, _, name = key.rpartition("__")
        owner = deep.get(owner_key) if owner_key else est
        steps = _step_names(value)
        shown = steps if steps is not None else stable(value)
        out[key] = (shown, _is_default(owner, name, value))
        out.update(
            {
                k: (v, _is_default(value, k.rsplit(".", 1)[-1], v))
                for k, v in parts(key, value).items()
            }
        )
    return out


def parts(key: str, value: Any) -> dict[str, Any]:
    """The settings inside a CV splitter or a scorer given as a param: ``cv=KFold(n_splits=5,
    shuffle=True)`` adds ``cv.n_splits`` and ``cv.shuffle``; ``scoring=make_scorer(
    precision_score, pos_label="yes")`` adds ``scoring.pos_label``."""
    if _is_splitter(value):
        return {
            f"{key}.{name}": stable(getattr(value, name))
            for name in _defaults(type(value))
            if hasattr(value, name)
        }
    kwargs = getattr(value, "_kwargs", None)
    if isinstance(kwargs, dict) and hasattr(value, "_score_func"):
        return {f"{key}.{k}": stable(v) for k, v in kwargs.items()}
    return {}


def _is_splitter(value: Any) -> bool:
    return (
        not isinstance(value, type)
        and callable(getattr(value, "split", None))
        and callable(getattr(value, "get_n_splits", None))
        and not _is_estimator(value)
    )


def _step_names(value: Any) -> str | None:
    if not isinstance(value, list) or not value:
        return None
    if all(isinstance(s, tuple) and len(s) >= 2 and isinstance(s[0], str) for s in value):
        return "[" + ", ".join(s[0] for s in value) + "]"
    return None


def _is_default(owner: Any, name: str, value: Any) -> bool:
    if owner is None:
        return False
    defaults = _defaults(type(owner))
    if name not in defaults:
        return False
    default = defaults[name]
    if value is default:
        return True
    if _is_nan(value) and _is_nan(default):
        return True
    try:
        return repr(value) == repr(default)
    except Exception:
        return False


@functools.lru_cache(maxsize=1024)
def _defaults(cls: type) -> dict[str, Any]:
    try:
        sig = inspect.signature(cls.__init__)
    except (TypeError, ValueError):
        return {}
    return {
        n: p.default
        for n, p in sig.parameters.items()
        if n != "self"
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        and p.default is not inspect.Parameter.empty
    }


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def call_settings(
    func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], skip: set[str]
) -> dict[str, Any]:
    """The settings a call was given, by parameter name: what the code passed, never data.

    Positional arguments are named through the signature; names in ``skip`` (the data
    arguments) and anything that looks like data (arrays, frames, long sequences) are left out.
    """
    bound: dict[str, Any] = {}
    try:
        sig = inspect.signature(func)
        ba = sig.bind_partial(*args, **kwargs)
        for name, value in ba.arguments.items():
            param = sig.parameters[name]
            if param.kind is param.VAR_POSITIONAL:
                continue
            if param.kind is param.VAR_KEYWORD:
                bound.update(value)
            else:
                bound[name] = value
    except (TypeError, ValueError):
        bound = dict(kwargs)
    out: dict[str, Any] = {}
    for k, v in bound.items():
        if k in skip or _looks_like_data(v):
            continue
        out[k] = stable(v)
        out.update(parts(k, v))
    return out


def _looks_like_data(value: Any) -> bool:
    if _is_estimator(value):
        return True  # the estimator is described by its own params
    shape = getattr(value, "shape", None)
    if shape is not None and len(shape) >= 1 and (len(shape) > 1 or shape[0] > 20):
        return True
    return isinstance(value, (list, tuple)) and len(value) > 20
