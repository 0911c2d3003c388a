"""Model files: skops by default, so loading never runs code from an untrusted type.

skops stores an object as a schema of known node types plus numpy arrays. ``load_bytes``
first lists the types the file would import (:func:`skops.io.get_untrusted_types`) and refuses
any that neither our allow-list (:mod:`.trust`: scikit-learn estimators and their inner types,
never functions) nor the caller's explicit ``trusted=`` covers, naming them. Pickle is written or
read only when the user opts in (``allow_pickle=True``), with a warning, because unpickling runs
arbitrary code.
"""

from __future__ import annotations

import io
import pickle
import warnings
from collections.abc import Sequence
from typing import Any

from ..errors import RegistryError, UnsafeModel
from .trust import refused_types

SKOPS = "skops"
PICKLE = "pickle"

PICKLE_WARNING = (
    "Loading a pickle model file runs arbitrary code it holds. "
    "Only do this for files you produced yourself."
)


def dump_model(model: Any, *, allow_pickle: bool = False) -> tuple[bytes, str]:
    """Serialise ``model``; returns ``(bytes, format)``. Pickle only with ``allow_pickle``."""
    import skops.io as sio

    try:
        return sio.dumps(model), SKOPS
    except Exception as exc:  # skops raises several types for unsupported objects
        if not allow_pickle:
            raise RegistryError(
                f"This {type(model).__name__} cannot be saved with skops ({exc}). "
                "Pass allow_pickle=True to store it as a pickle file instead (loading it will "
                "then need allow_pickle=True too)."
            ) from None
    warnings.warn(
        f"{type(model).__name__} is stored as a pickle file: loading it runs arbitrary code.",
        UserWarning,
        stacklevel=3,
    )
    buf = io.BytesIO()
    pickle.dump(model, buf, protocol=pickle.HIGHEST_PROTOCOL)
    return buf.getvalue(), PICKLE


def untrusted_types(data: bytes) -> list[str]:
    """The types a skops file would import that skops does not trust by default."""
    import skops.io as sio

    try:
        return sorted(sio.get_untrusted_types(data=data))
    except Exception as exc:
        raise UnsafeModel(
            f"The model file is not a readable skops file ({type(exc).__name__}: {exc}). "
            "Re-register the model from a fitted estimator."
        ) from None


def load_bytes(
    data: bytes,
    fmt: str,
    *,
    what: str,
    trusted: Sequence[str] | None = None,
    allow_pickle: bool = False,
    hint: str = "",
) -> Any:
    """Deserialise a model file, refusing untrusted types (skops) or pickle without opt-in.

    ``what`` names the model in messages ("'churn' version 2"); ``hint`` is the call that
    would trust the listed types.
    """
    if fmt == PICKLE:
        if not allow_pickle:
            raise UnsafeModel(
                f"Model {what} is a pickle file, and unpickling runs arbitrary code. "
                "If you produced it yourself, load it with allow_pickle=True."
            )
        warnings.warn(PICKLE_WARNING, UserWarning, stacklevel=3)
        return pickle.loads(data)
    if fmt != SKOPS:
        raise UnsafeModel(
            f"Model {what} has an unknown file format {fmt!r}. "
            "Re-register it with this version of mlops-jupyter."
        )
    import skops.io as sio

    found = untrusted_types(data)
    refused = refused_types(found, set(trusted or ()))
    if refused:
        listed = ", ".join(refused)
        trust = hint.format(types=refused) if hint else f"trusted={refused!r}"
        raise UnsafeModel(
            f"Model {what} holds types that are not trusted by default: {listed} (functions "
            "and classes outside scikit-learn, numpy and scipy are never trusted implicitly). "
            f"Nothing was loaded; if you trust them, pass them explicitly: {trust}."
        )
    try:
        return sio.loads(data, trusted=sorted(set(found) - set(refused)) or None)
    except Exception as exc:
        raise UnsafeModel(
            f"Model {what} could not be loaded safely ({type(exc).__name__}: {exc}). "
            "Re-register the model from a fitted estimator."
        ) from None
