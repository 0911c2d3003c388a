"""Stored dataset diffs (issue #5); the diff itself is also a lineage edge.

Owns its own migration set; add migrations as `m00N_...` functions, never edit released ones.
"""

from __future__ import annotations

from sqlite_utils import Migrations

from .base import StoreBase

migrations = Migrations("mlops_jupyter.datadiff")


class DatadiffMixin(StoreBase):
    pass
