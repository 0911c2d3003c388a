"""Export a run into a reproducible bundle, re-run it headlessly, verify its results.

Papermill's shape, one small module per step::

    slice.py         which captured executions the results depend on (names read / written)
    parameterize.py  the ``parameters`` cell, literal param assignments turned into comments
    bundle.py        write run.ipynb + manifest.json + requirements.txt
    inputs.py        input files (hashed, copied into data/ when small), environment, requirements
    execute.py       run a bundle in a fresh kernel (nbclient); sweeps of a param grid
    executors.py     where a sweep runs: local processes, any concurrent.futures executor, Dask
    verify.py        re-run and compare metrics (tolerance) and dataset fingerprints
    repro.py         reproducibility status of an interactive run
"""

from __future__ import annotations

from .bundle import Bundle, StaleRunWarning, export, load_manifest
from .execute import BundleRun, Sweep, run_bundle, sweep
from .executors import Executor, FuturesExecutor, LocalExecutor
from .repro import ReproStatus, reproducibility
from .verify import Verification, verify

__all__ = [
    "Bundle",
    "BundleRun",
    "Executor",
    "FuturesExecutor",
    "LocalExecutor",
    "ReproStatus",
    "StaleRunWarning",
    "Sweep",
    "Verification",
    "export",
    "load_manifest",
    "reproducibility",
    "run_bundle",
    "sweep",
    "verify",
]
