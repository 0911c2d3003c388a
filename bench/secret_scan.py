"""Benchmark (#13): secrets caught out of a corpus, look-alikes left alone, cost per cell.

The corpus (``tests/secrets_corpus.py``) holds secrets as notebook code carries them (provider
tokens under innocent names, passwords in URLs, private key blocks, ``*_KEY``/``*_TOKEN``
names) and code that only looks like them. Cost: ``redact`` (what capture stores for a cell's
code) on three cells, median of 7 blocks of 2,000 calls.

    .venv/bin/python bench/secret_scan.py
"""

from __future__ import annotations

import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlops_jupyter.capture.ast_names import redact
from tests import secrets_corpus as corpus

CELLS = {
    "x = 1": "x = 1",
    "typical (6 lines)": (
        "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n"
        'df = pd.read_csv("train.csv")\nX, y = df.drop(columns=["target"]), df["target"]\n'
        "clf = LogisticRegression(C=0.5, max_iter=200).fit(X, y)\n"
        'print(f"accuracy: {clf.score(X, y):.3f}")\n'
    ),
    "with a token (1 line)": corpus.SECRETS[0][1],
    "long (60 lines)": "\n".join(f"feature_{i} = df['col_{i}'].mean() * {i}" for i in range(60)),
}


def cost(code: str, n: int = 2000) -> float:
    blocks = []
    for _ in range(7):
        t = time.perf_counter()
        for _ in range(n):
            redact(code)
        blocks.append((time.perf_counter() - t) / n)
    return statistics.median(blocks)


def main() -> None:
    missed = [(k, c) for k, c, s in corpus.SECRETS if s in redact(c)]
    by_kind = Counter(k for k, _, _ in corpus.SECRETS)
    print(
        f"secrets caught: {len(corpus.SECRETS) - len(missed)} of {len(corpus.SECRETS)} "
        f"({', '.join(f'{k} {n}' for k, n in sorted(by_kind.items()))})"
    )
    for kind, code in missed:
        print(f"  missed ({kind}): {code[:80]}")
    touched = [c for c in corpus.CLEAN if redact(c) != c]
    print(f"look-alikes changed: {len(touched)} of {len(corpus.CLEAN)}")
    for code in touched:
        print(f"  changed: {code[:80]}")
    for name, code in CELLS.items():
        print(f"redact per cell, {name:<22}: {cost(code) * 1e6:7.1f} us")
    if missed or touched:
        sys.exit(1)


if __name__ == "__main__":
    main()
