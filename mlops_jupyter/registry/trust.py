"""Which types a model file may hold: an allow-list shipped in this code, never read from data.

skops refuses types it does not trust by default, and scikit-learn's own tree models hold some
(``sklearn.tree._tree.Tree``, the histogram gradient boosting ``TreePredictor``). We trust, on
top of skops' defaults, exactly the *classes* below: scikit-learn estimators and the inner
types they are made of (trees, predictors, optimisers, losses, CV splitters, scorers, bunches),
numpy scalar types, dtypes and random generators, and scipy's frozen distributions. A name is
trusted only when it resolves to a class of one of these kinds; functions never are
(``numpy.testing._private.utils.runstring`` runs any code it is given). Nothing here comes from
the store: an attacker who can write the store folder cannot widen the list.

Types outside the list (your own classes, functions referenced by a model) load only when the
caller names them in ``trusted=[...]``.
"""

from __future__ import annotations

import importlib
import sys
from functools import lru_cache
from typing import Any

# Exact names of inner types seen in fitted scikit-learn models (checked to be classes too).
INNER_TYPES = frozenset(
    {
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.utils._bunch.Bunch",
        "sklearn.metrics._scorer._Scorer",
        "sklearn.metrics._scorer._PassthroughScorer",
        "sklearn.metrics._scorer._MultimetricScorer",
        "sklearn.model_selection._split._CVIterableWrapper",
        "numpy.dtype",
        "numpy.random.mtrand.RandomState",
        "numpy.random._generator.Generator",
        "numpy.random._pcg64.PCG64",
        "numpy.random._mt19937.MT19937",
        "numpy.random._philox.Philox",
        "numpy.random._sfc64.SFC64",
        "numpy.random.bit_generator.SeedSequence",
        "scipy.stats._distn_infrastructure.rv_continuous_frozen",
        "scipy.stats._distn_infrastructure.rv_discrete_frozen",
    }
)
# Modules a trusted name may come from at all: nothing else is ever imported to check a name.
ROOTS = ("sklearn", "numpy", "scipy")


def _resolve(name: str) -> Any:
    """The object ``module.attr`` names, or None (only under :data:`ROOTS`)."""
    module, _, attr = name.rpartition(".")
    if not module or module.split(".")[0] not in ROOTS:
        return None
    try:
        mod = sys.modules.get(module) or importlib.import_module(module)
        return getattr(mod, attr, None)
    except Exception:
        return None


def _kind_bases() -> tuple[type, ...]:
    """Base classes whose subclasses are trusted wherever they live under the roots."""
    import numpy as np

    bases: list[type] = [np.generic, np.dtype]
    try:
        from sklearn._loss.link import BaseLink
        from sklearn._loss.loss import BaseLoss
        from sklearn.base import BaseEstimator
        from sklearn.model_selection._split import BaseCrossValidator, BaseShuffleSplit

        bases += [BaseEstimator, BaseCrossValidator, BaseShuffleSplit, BaseLoss, BaseLink]
    except ImportError:  # another scikit-learn layout: the exact names still apply
        pass
    try:
        from scipy.stats._distn_infrastructure import rv_generic

        bases.append(rv_generic)
    except ImportError:
        pass
    return tuple(bases)


@lru_cache(maxsize=512)
def is_allowed(name: str) -> bool:
    """True when ``name`` is a class this module trusts (see the module docstring)."""
    obj = _resolve(name)
    if not isinstance(obj, type):
        return False  # functions, methods, modules, missing names: never
    if name in INNER_TYPES:
        return True
    return issubclass(obj, _kind_bases())


def refused_types(found: list[str], trusted: set[str]) -> list[str]:
    """The types of ``found`` that neither the allow-list nor the caller's ``trusted`` cover."""
    return [t for t in found if t not in trusted and not is_allowed(t)]
