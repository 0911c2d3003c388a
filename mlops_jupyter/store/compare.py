"""Read (and, where needed, write) queries for the compare area.

Owns its own migration set; add migrations as `m00N_...` functions, never edit released ones.
"""

from __future__ import annotations

from sqlite_utils import Migrations

from .base import StoreBase

migrations = Migrations("mlops_jupyter.compare")


class CompareMixin(StoreBase):
    pass
