"""Pure computation over data and the store: comparison, drift, dataset diffs.

Functions take data and return frozen result objects (dataclasses holding DataFrames); rendering
lives in :mod:`mlops_jupyter.display`.
"""
