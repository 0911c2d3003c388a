"""Continuous monitoring and training: a new batch in, checked, the model retrained, gated,
proposed or promoted, every step audited (issue #17).

    monitor          one batch against a model's alias holder (``mj.monitor``)
    monitor_history  every batch a model was monitored on (``mj.monitor_history``)
    proposals        promotion proposals the loop recorded (``mj.proposals``)
    approve, reject  carry out or close a proposal (``mj.approve``, ``mj.reject``)
    propose          a changed bundle's model gated against the champion (``mj.propose``)

Modules: ``policy`` (the policy file), ``batch`` (read and validate a batch), ``performance``
(measured metrics, the confidence-based estimate and its trust), ``retrain`` (the bundle re-run
on the batch), ``loop`` (the pass itself), ``decide`` (gates, then promote or propose),
``code`` (code updates), ``proposals``, ``result`` (frozen results).
The core imports no Jupyter UI; rendering lives in :mod:`mlops_jupyter.display.monitor`.
"""

from __future__ import annotations

from .code import CodeProposal, propose
from .loop import monitor
from .policy import load_policy
from .proposals import ProposalList, approve, monitor_history, proposals, reject
from .result import MonitorHistory, MonitorResult, Trigger

__all__ = [
    "CodeProposal",
    "MonitorHistory",
    "MonitorResult",
    "ProposalList",
    "Trigger",
    "approve",
    "load_policy",
    "monitor",
    "monitor_history",
    "proposals",
    "propose",
    "reject",
]
