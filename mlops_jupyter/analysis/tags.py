"""Dataset tags from the user's side: ``mj.tag(...)``, and filters like ``tag="pii=true"``.

Capture tags every dataset version with its ``source`` (``file`` with ``source.path`` and
``source.hash``, ``loader`` / ``generator`` with ``source.loader``, ``split``, or ``cell``
with ``source.cell`` and ``source.derived_from``), its ``type`` (``tabular``, ``text``,
``image``, ``timeseries``) and its quality (``quality.completeness``: the share of non-null
cells; ``quality.tests`` / ``quality.suite``: the latest data test result). The user adds
their own: ``mj.tag("df", owner="risk", pii=True)`` tags every version of ``df``, past and
future; ``mj.tag("df@2", reviewed="yes")`` one version. A dataset tagged ``pii=true`` (or
derived from one) is never snapshotted into the store unless asked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import InvalidInput

TAG_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$")
AUTOMATIC = ("source", "type", "quality")
_REF = re.compile(r"^(?P<name>.+?)@(?P<version>\d+)$")


def parse_filters(tag: str | Sequence[str] | None) -> list[tuple[str, str | None]]:
    """``"pii=true"`` / ``["owner=risk", "pii"]`` -> ``[(key, value or None)]`` (all must hold)."""
    if tag is None:
        return []
    items = [tag] if isinstance(tag, str) else list(tag)
    out: list[tuple[str, str | None]] = []
    for item in items:
        for part in str(item).split(","):
            part = part.strip()
            if not part:
                continue
            key, sep, value = part.partition("=")
            key = key.strip()
            if not TAG_KEY.match(key):
                raise InvalidInput(
                    f"{part!r} is not a tag filter. Write KEY=VALUE or KEY, e.g. "
                    "tag='pii=true' or tag=['owner=risk', 'type=tabular']."
                )
            out.append((key, value.strip() if sep else None))
    return out


def _same(a: str, b: str) -> bool:
    return a.strip().lower() == b.strip().lower()


def matches(tags: Mapping[str, str], filters: Iterable[tuple[str, str | None]]) -> bool:
    for key, value in filters:
        if key not in tags:
            return False
        if value is not None and not _same(tags[key], value):
            return False
    return True


def merged(all_tags: Mapping[tuple[str, int], Mapping[str, str]], name: str, version: int) -> dict:
    """A version's tags: its name's (version 0), overridden by its own."""
    out = dict(all_tags.get((name, 0), {}))
    out.update(all_tags.get((name, int(version)), {}))
    return out


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def tag(
    dataset: Any,
    tags: Mapping[str, Any] | None = None,
    *,
    remove: Sequence[str] = (),
    by: str | None = None,
    store: Any = None,
    **more: Any,
) -> dict[str, str]:
    """Tag a dataset: a name (every version), ``NAME@V`` (one version) or a captured object.

    ``mj.tag("df", owner="risk", pii=True)``; ``remove=["owner"]`` removes keys. Returns the
    tags of the dataset's latest version (or of that version)."""
    from .datadiff import _open

    st = _open(store, needed=True)
    name, version = _resolve(st, dataset)
    values = {**dict(tags or {}), **more}
    for key in list(values) + list(remove):
        if not TAG_KEY.match(str(key)):
            raise InvalidInput(
                f"{key!r} is not a tag name. Use letters, digits, '_', '.', '-', e.g. owner=risk."
            )
        if str(key).split(".")[0] in AUTOMATIC:
            raise InvalidInput(
                f"Tag {key!r} is set by capture (source, type, quality.*). Choose another "
                "name, e.g. origin=crm."
            )
    from ..registry.audit import current_user

    st.set_dataset_tags(
        name,
        {str(k): _value(v) for k, v in values.items()},
        version=version or 0,
        kind="user",
        by=current_user(by),
    )
    if remove:
        st.remove_dataset_tags(name, [str(k) for k in remove], version=version or 0)
    shown = version
    if shown is None:
        shown = st.find_latest_version(name)
        if shown is None:  # allowed (tag pii before the data is captured), but maybe a typo
            _warn_unrecorded(st, name)
    return st.dataset_tags(name, shown)


def _warn_unrecorded(st: Any, name: str) -> None:
    import difflib
    import warnings

    known = sorted({str(r["name"]) for r in st.list_datasets()})
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    warnings.warn(
        f"No dataset {name!r} is recorded yet: its tags apply to the versions recorded later."
        + hint,
        UserWarning,
        stacklevel=3,
    )


def _resolve(st: Any, dataset: Any) -> tuple[str, int | None]:
    """``(name, version or None)`` of what :func:`tag` was given."""
    if isinstance(dataset, str):
        text = dataset.strip()
        m = _REF.match(text)
        if m:
            name, version = m.group("name"), int(m.group("version"))
            st.resolve_dataset(f"{name}@{version}")  # DatasetNotFound names the fix
            return name, version
        if not text:
            raise InvalidInput("Say which dataset to tag: mj.tag('df', owner='risk').")
        return text, None  # a name: its tags hold for versions recorded later, too
    name = _name_of(st, dataset)
    if name is None:
        raise InvalidInput(
            "This object is not a captured dataset. Tag it by name: mj.tag('df', pii=True) "
            "(the name it is assigned to in the notebook)."
        )
    return name, None


def _name_of(st: Any, obj: Any) -> str | None:
    from ..capture.session import get_session

    session = get_session()
    for name, ref in list(session.datasets.items()):
        if ref() is obj:
            return str(name)
    from ..capture.fingerprint import fingerprint

    try:
        fp = fingerprint(obj)
    except Exception:
        return None
    rows = st.find_dataset_versions([fp]) if fp else []
    return str(rows[-1]["name"]) if rows else None
