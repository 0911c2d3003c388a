"""Secrets by value and by name: never stored in clear, in code, params (inherited ones too),
dataset source paths, run names or error summaries; look-alikes are left alone; cheap."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import pytest

from mlops_jupyter.capture.ast_names import redact
from mlops_jupyter.capture.secrets import has_secret_value, is_secret_name, redact_text

from . import secrets_corpus as corpus
from .conftest import dump_store, run


@pytest.mark.parametrize(("kind", "code", "secret"), corpus.SECRETS)
def test_every_secret_of_the_corpus_is_masked(kind: str, code: str, secret: str) -> None:
    stored = redact(code)
    assert secret not in stored, f"{kind} kept in clear"
    assert "***" in stored


@pytest.mark.parametrize("code", corpus.CLEAN)
def test_look_alikes_are_left_alone(code: str) -> None:
    assert redact(code) == code
    assert not has_secret_value(code)


def test_url_keeps_all_but_the_password() -> None:
    url = f"postgresql://admin:{corpus.PASSWORD}@db.internal/prod"
    assert redact_text(url) == "postgresql://admin:***@db.internal/prod"


def test_names() -> None:
    for name in ("OPENAI_KEY", "aws_secret_access_key", "GITHUB_TOKEN", "db_pwd", "api_key"):
        assert is_secret_name(name), name
    for name in ("key", "sort_key", "rng_key", "monkey", "keyboard", "n_keys"):
        assert not is_secret_name(name), name


def test_cost_per_typical_cell_is_well_under_a_tenth_of_a_millisecond() -> None:
    cell = (
        "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n"
        'df = pd.read_csv("train.csv")\nX, y = df.drop(columns=["target"]), df["target"]\n'
        "clf = LogisticRegression(C=0.5, max_iter=200).fit(X, y)\n"
        'print(f"accuracy: {clf.score(X, y):.3f}")\n'
    )
    blocks = []
    for _ in range(7):
        t = time.perf_counter()
        for _ in range(1000):
            redact(cell)
        blocks.append((time.perf_counter() - t) / 1000)
    assert statistics.median(blocks) < 50e-6


def test_dataset_source_paths_lose_their_credentials() -> None:
    from mlops_jupyter.capture.detect import source_file

    path, digest = source_file(f"s3://{corpus.AWS_ID}:{corpus.PASSWORD}@bucket/train.csv")
    assert corpus.PASSWORD not in path and corpus.AWS_ID in path and digest is None


def _dump(db: Path) -> str:
    return dump_store(db)


def test_nothing_secret_reaches_the_store(shell, store_file, tmp_path) -> None:
    """The review's examples, in a real shell: code, params, a child run's inherited params,
    a dataset's source path, a run name and an error message."""
    from mlops_jupyter.capture.session import get_session

    pw = corpus.PASSWORD
    (tmp_path / "train.csv").write_text("a,b\n1,2\n3,4\n")
    run(shell, "import mlops_jupyter as mj\nimport pandas as pd\nimport numpy as np")
    run(shell, f'mj.start_run("tuning {corpus.GITHUB}")')
    run(shell, f'OPENAI_KEY = "{corpus.OPENAI}"\nowner = "{corpus.AWS_ID}"\nlr = 0.1')
    run(shell, f'db = "postgresql://admin:{pw}@host/db"\nmj.log_param("dsn", db)')
    run(shell, f'mj.log_params({{"hf": "{corpus.HUGGINGFACE}", "note": "gh {corpus.GITHUB}"}})')
    run(shell, 'df = pd.read_csv("train.csv")')
    run(shell, "accuracy = 0.9")  # results: the next param change starts a child run
    run(shell, "lr = 0.2")
    child = get_session().run_id
    run(shell, f'raise ValueError("cannot reach postgresql://admin:{pw}@host/db")', check=False)
    get_session().end_run()
    text = _dump(store_file)
    for secret in (corpus.OPENAI, corpus.AWS_ID, pw, corpus.HUGGINGFACE, corpus.GITHUB):
        assert secret not in text
    store = get_session().store
    params = store.get_params(child)
    assert params["dsn"] == "postgresql://admin:***@host/db"  # inherited, masked
    assert params["owner"] == "***" and "OPENAI_KEY" not in params
    assert store.get_run(child)["parent_run_id"] is not None
