"""Turn live objects (datasets, models) into store rows. Shared by capture and other areas.

The expensive part (fingerprint, profile, model file) is computed before any write; the
``store`` calls may then run inside the caller's ``with store.write():`` transaction.
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass, field
from typing import Any

from .fingerprint import (
    LazyFingerprint,
    column_dtypes,
    dtype_name,
    file_hash,
    fingerprint,
    fingerprint_without_timing,
    model_fingerprint,
    resolve,
)

UNTIMED = "__fingerprint_without_timing__"  # profile key (``__`` keys are not columns)


@dataclass
class DatasetFacts:
    """What the store needs to know about one dataset object, computed without writing."""

    fingerprint: Any  # text, or a LazyFingerprint until written
    kind: str
    n_rows: int | None
    n_cols: int | None
    schema: dict[str, str] = field(default_factory=dict)
    profile: dict[str, Any] | None = None  # None: the store already holds this content
    pending: Any = None  # computes the profile later (off the cell's critical path)

    def ready_profile(self) -> dict[str, Any] | None:
        if self.profile is None and self.pending is not None:
            self.profile, self.pending = self.pending(), None
        return self.profile


def describe_dataset(
    obj: Any,
    fp: str | None = None,
    *,
    store: Any = None,
    later: bool = False,
    known: Any = None,
) -> DatasetFacts | None:
    """Fingerprint, kind, shape and schema of ``obj``; its profile unless ``store`` has it.

    With ``later``, the profile is computed when the facts are written (on the store's writer
    thread) from a snapshot taken now; ``known`` is a set of fingerprints already written or
    queued by this process (nothing to profile for those)."""
    fp = fp or fingerprint(obj)
    if fp is None:
        return None
    kind, n_rows, n_cols, schema = _shape(obj)
    facts = DatasetFacts(fp, kind, n_rows, n_cols, schema)
    lazy = isinstance(fp, LazyFingerprint)  # large data: whether it is stored is known later
    if not lazy and known is not None and fp in known:
        return facts
    if lazy or store is None or not store.has_dataset_content(fp, wait=not later):
        from .profile import deferred, profile

        # verify compares this fingerprint too: timing columns differ on every run
        untimed = fingerprint_without_timing(obj)
        if later:
            compute = deferred(obj)
            facts.pending = lambda: _with_untimed(compute(), untimed)
        else:
            facts.profile = _with_untimed(profile(obj), untimed)
    return facts


def _with_untimed(profile: dict[str, Any], untimed: str | None) -> dict[str, Any]:
    if untimed is not None:
        profile[UNTIMED] = untimed
    return profile


def write_dataset(
    store: Any,
    name: str,
    facts: DatasetFacts,
    *,
    run_id: str | None = None,
    execution_id: int | None = None,
    source_path: str | None = None,
    source_hash: str | None = None,
) -> dict[str, Any] | None:
    """Store ``facts`` (content once, a new version of ``name`` when it changed); ``None``
    when the data changed before its fingerprint could be computed (see LazyFingerprint)."""
    fp = resolve(facts.fingerprint)
    if fp is None:
        return None
    facts.fingerprint = fp
    if facts.profile is None and facts.pending is not None and store.has_dataset_content(fp):
        facts.pending = None  # stored already (by another cell or process): nothing to profile
    from .profile import DataChanged

    try:
        facts.ready_profile()
    except DataChanged:
        return None
    with store.write():
        if facts.ready_profile() is not None:
            store.record_dataset_content(
                facts.fingerprint,
                kind=facts.kind,
                n_rows=facts.n_rows,
                n_cols=facts.n_cols,
                schema=facts.schema,
                profile=facts.profile,
            )
        return store.record_dataset_version(
            name,
            facts.fingerprint,
            source_path=source_path,
            source_hash=source_hash,
            run_id=run_id,
            execution_id=execution_id,
        )


def record_dataset(
    store: Any,
    name: str,
    obj: Any,
    *,
    run_id: str | None = None,
    execution_id: int | None = None,
    source_path: str | None = None,
    source_hash: str | None = None,
) -> dict[str, Any]:
    """Record ``obj`` as a version of dataset ``name``; returns the dataset version row.

    A new version is added only when the content differs from ``name``'s latest version. When
    ``source_path`` is given without ``source_hash``, the file is hashed.
    """
    from ..errors import InvalidInput

    facts = describe_dataset(obj, store=store)
    if facts is None:
        raise InvalidInput(
            f"{name!r} is a {type(obj).__name__}, not a dataset. "
            "Pass a pandas DataFrame or Series, or a numpy array."
        )
    if source_path and not source_hash:
        try:
            source_hash = file_hash(source_path)
        except OSError:
            source_hash = None
    written = write_dataset(
        store,
        name,
        facts,
        run_id=run_id,
        execution_id=execution_id,
        source_path=source_path,
        source_hash=source_hash,
    )
    if written is None:
        raise InvalidInput(f"{name!r} changed while it was being logged; log it again.")
    return written


# -- models -----------------------------------------------------------------------------------


def is_estimator(obj: Any) -> bool:
    """A scikit-learn estimator (only when the user imported scikit-learn)."""
    base = sys.modules.get("sklearn.base")
    return base is not None and isinstance(obj, base.BaseEstimator) and not isinstance(obj, type)


def is_fitted(obj: Any) -> bool:
    validation = sys.modules.get("sklearn.utils.validation")
    if validation is not None:
        try:
            validation.check_is_fitted(obj)
            return True
        except Exception:
            return False
    return any(k.endswith("_") and not k.startswith("_") for k in vars(obj))


@dataclass
class ModelFacts:
    fingerprint: str
    class_name: str
    params: dict[str, Any]
    artifact: bytes | None = None


def describe_model(estimator: Any, *, with_artifact: bool = True) -> ModelFacts:
    """Fingerprint, class, scalar hyper-parameters and (optionally) a skops file of a model."""
    cls = type(estimator)
    params = {k: _param_value(v) for k, v in estimator.get_params(deep=False).items()}
    artifact = None
    if with_artifact:
        try:
            import skops.io

            artifact = skops.io.dumps(estimator)
        except Exception as exc:  # optional: the model row is enough for lineage
            warnings.warn(
                f"mlops-jupyter could not save a {cls.__name__} model file ({exc}); "
                "its fingerprint, class and params are still recorded.",
                stacklevel=2,
            )
    return ModelFacts(
        model_fingerprint(estimator), f"{cls.__module__}.{cls.__qualname__}", params, artifact
    )


def write_model(
    store: Any,
    facts: ModelFacts,
    *,
    name: str | None = None,
    run_id: str | None = None,
    execution_id: int | None = None,
) -> str:
    with store.write():
        artifact_hash = None
        if facts.artifact is not None:
            artifact_hash = store.put_artifact(facts.artifact, "application/x-skops")
        store.record_model(
            facts.fingerprint,
            class_name=facts.class_name,
            params=facts.params,
            artifact_hash=artifact_hash,
            name=name,
            run_id=run_id,
            execution_id=execution_id,
        )
    return facts.fingerprint


def record_model(
    store: Any,
    name: str | None,
    estimator: Any,
    *,
    run_id: str | None = None,
    execution_id: int | None = None,
    with_artifact: bool = True,
) -> str:
    """Record a fitted model; returns its fingerprint."""
    facts = describe_model(estimator, with_artifact=with_artifact)
    return write_model(store, facts, name=name, run_id=run_id, execution_id=execution_id)


# -- helpers -------------------------------------------------------------------------------------


def _shape(obj: Any) -> tuple[str, int | None, int | None, dict[str, str]]:
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(obj, pd.DataFrame):
        schema = {str(c): dtype_name(t) for c, t in zip(obj.columns, column_dtypes(obj))}
        return "dataframe", obj.shape[0], obj.shape[1], schema
    if pd is not None and isinstance(obj, pd.Series):
        return "series", obj.shape[0], 1, {str(obj.name or "value"): dtype_name(obj.dtype)}
    shape: tuple[Any, ...] = tuple(getattr(obj, "shape", ()))
    n_rows = shape[0] if len(shape) >= 1 else 1
    n_cols = 1 if len(shape) <= 1 else int(_prod(shape[1:]))
    return "ndarray", int(n_rows), n_cols, {"value": str(getattr(obj, "dtype", ""))}


def _prod(values: Any) -> int:
    out = 1
    for v in values:
        out *= int(v)
    return out


def _param_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    item = getattr(value, "item", None)
    if callable(item):
        try:
            v = item()
            if isinstance(v, (bool, int, float, str)):
                return v
        except (TypeError, ValueError):
            pass
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."
