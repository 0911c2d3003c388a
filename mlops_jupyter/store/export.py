"""Read (and, where needed, write) queries for the export area.

Owns its own migration set; add migrations as `m00N_...` functions, never edit released ones.
"""

from __future__ import annotations

from sqlite_utils import Migrations

from .base import StoreBase

migrations = Migrations("mlops_jupyter.export")


class ExportMixin(StoreBase):
    pass
