"""Every failure the core reports on purpose.

Each message is two sentences: what is wrong, then what to do about it. The edges translate
them once: magics to ``IPython.core.error.UsageError``, the CLI to ``click.ClickException``,
HTTP handlers to a JSON 4xx. Anything that is not an ``MlopsError`` is a bug and keeps its
traceback.

    MlopsError
    ├── StoreError                  the store file cannot be opened or is not ours
    │   ├── StoreVersionError       written by a newer mlops-jupyter
    │   └── StoreWriteError         disk full, read-only, locked too long (also sqlite3's)
    ├── NotFound                    a name or id that does not resolve
    │   ├── ExperimentNotFound
    │   ├── RunNotFound
    │   ├── DatasetNotFound
    │   ├── ModelNotFound
    │   └── ArtifactNotFound
    ├── InvalidInput                bad arguments from a user (magic, CLI, API, HTTP)
    ├── AnalysisError               drift / diff / compare cannot run on these inputs
    ├── RegistryError               registry rules refused an action
    │   ├── GateFailed
    │   ├── UnsafeModel             a model file holds types we will not load
    │   └── AuditTampered           the audit chain does not verify
    └── ExportError                 a bundle cannot be written, run or verified
        ├── InputChanged            an input file's hash differs from the manifest
        └── NotReproduced           verify found metrics or datasets that moved
"""

from __future__ import annotations

import sqlite3


class MlopsError(Exception):
    """Base class: a failure with a message meant for the user, not a bug."""


class StoreError(MlopsError):
    pass


class StoreVersionError(StoreError):
    pass


class StoreWriteError(StoreError, sqlite3.OperationalError):
    """A write failed in SQLite (disk full, read-only file, lock held too long). Still an
    ``sqlite3.OperationalError``, so code that falls back on one keeps working."""


class NotFound(MlopsError):
    pass


class ExperimentNotFound(NotFound):
    pass


class RunNotFound(NotFound):
    pass


class DatasetNotFound(NotFound):
    pass


class ModelNotFound(NotFound):
    pass


class ArtifactNotFound(NotFound):
    pass


class InvalidInput(MlopsError):
    pass


class AnalysisError(MlopsError):
    pass


class RegistryError(MlopsError):
    pass


class GateFailed(RegistryError):
    pass


class UnsafeModel(RegistryError):
    pass


class AuditTampered(RegistryError):
    pass


class ExportError(MlopsError):
    pass


class InputChanged(ExportError):
    pass


class NotReproduced(ExportError):
    pass
