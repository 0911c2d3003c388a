"""Secrets, found by name and by value, so none is stored in clear.

By name (:func:`is_secret_name`): ``password``, ``passwd``, ``pwd``, ``passphrase``, ``token``,
``secret``, ``api_key``, ``credential``, ``private_key``, ``access_key`` anywhere in a name, and
names ending in ``_key`` (``OPENAI_KEY``, ``aws_key``) except the usual non-secret keys
(``sort_key``, ``primary_key``, ``rng_key``, ...).

By value (:func:`redact_text`), whatever the name: provider token formats (OpenAI/Anthropic
``sk-...``, AWS ``AKIA...``, GitHub ``ghp_...``/``github_pat_...``, GitLab, Slack, Stripe,
Google, Hugging Face, npm, PyPI, SendGrid, Databricks, JWTs), private key blocks, Azure
``AccountKey=``, and the password of credentials in URLs (``postgresql://admin:***@host/db``).
A match becomes ``***``; the rest of the text stays, so stored code and paths still read.

A text with none of the formats' literal parts (``sk-``, ``AKIA``, ``://`` with ``@``, ...) is
left after a few substring searches; only the others pay for the pattern (``bench/secret_scan.py``).
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "***"

_NAME = re.compile(
    r"password|passwd|pwd|passphrase|token|secret|api_?key|credential|private_?key|access_?key",
    re.IGNORECASE,
)
_KEY_SUFFIX = re.compile(r"_key$", re.IGNORECASE)
_NOT_SECRET_KEYS = re.compile(
    r"(?:sort|primary|foreign|cache|group|join|partition|dict|index|row|column|col|hash|lookup|"
    r"map|shard|merge|split|target|label|feature|id|name|metric|random|rng|prng|seed|sample)"
    r"_key$",
    re.IGNORECASE,
)

# Provider formats. Each is a whole-token match, replaced by ***.
_TOKENS = [
    r"(?<![A-Za-z0-9_-])sk-(?:ant-|proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",  # OpenAI, Anthropic
    r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b",  # AWS access key ids
    r"\bgh[pousr]_[A-Za-z0-9]{36,}",  # GitHub tokens
    r"\bgithub_pat_[A-Za-z0-9_]{22,}",
    r"\bglpat-[A-Za-z0-9_-]{20,}",  # GitLab
    r"\bxox[abposr]-[A-Za-z0-9-]{10,}",  # Slack
    r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+",
    r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}",  # Stripe
    r"\bAIza[0-9A-Za-z_-]{35}",  # Google API keys
    r"\bhf_[A-Za-z0-9]{30,}",  # Hugging Face
    r"\bnpm_[A-Za-z0-9]{36}",
    r"\bpypi-[A-Za-z0-9_-]{50,}",
    r"\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}",  # SendGrid
    r"\bdapi[0-9a-f]{32}\b",  # Databricks
    r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}",  # JWT
    r"AccountKey=[A-Za-z0-9+/]{40,}={0,2}",  # Azure storage connection strings
    # a private key block, to its END line (or the end of the text when cut)
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
    r"(?:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|.*\Z)",
]
# scheme://user:PASSWORD@host: only the password goes
_URL = r"(?P<url>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@'\"`]*:)(?P<pw>[^\s@/'\"`]+)(?=@)"
_VALUE = re.compile(_URL + "|" + "|".join(f"(?:{t})" for t in _TOKENS), re.DOTALL)
# Literal parts every match above contains: a text holding none of them is left at once, which
# keeps a typical cell at a few substring searches instead of a regex scan.
_HINTS = (
    *("sk-", "AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA"),
    *("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "xox", "hooks.slack"),
    *("k_live_", "k_test_", "AIza", "hf_", "npm_", "pypi-", "SG.", "dapi", "eyJ"),
    *("AccountKey=", "PRIVATE KEY"),
)
_HINT = re.compile("|".join(re.escape(h) for h in _HINTS))
# words every secret-looking name contains, looked for in the lowered text first
_NAME_WORDS = ("pass", "pwd", "token", "secret", "key", "credential")


def may_name_secret(text: str) -> bool:
    """Cheap: could ``text`` mention a secret-looking name? (no means surely not)"""
    low = text.lower()
    return any(word in low for word in _NAME_WORDS)


def is_secret_name(name: str) -> bool:
    """A name that holds a secret by convention (see the module docstring)."""
    if _NAME.search(name):
        return True
    return bool(_KEY_SUFFIX.search(name)) and not _NOT_SECRET_KEYS.search(name)


def _sub(m: re.Match[str]) -> str:
    if m.group("pw") is not None:
        return m.group("url") + REDACTED
    return REDACTED


def _may_hold(text: str) -> bool:
    if "://" in text and "@" in text:
        return True
    return _HINT.search(text) is not None


def redact_text(text: str) -> str:
    """``text`` with every secret found by value replaced by ``***``."""
    if not _may_hold(text):
        return text
    return _VALUE.sub(_sub, text)


def has_secret_value(text: str) -> bool:
    return _may_hold(text) and _VALUE.search(text) is not None


def redact_value(value: Any) -> Any:
    """A param value with secrets masked (strings only; other values unchanged)."""
    return redact_text(value) if isinstance(value, str) else value
