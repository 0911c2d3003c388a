"""Capture (#16): data first used to train a model gets a drafted suite, later versions are
checked off the cell's critical path, datasets are tagged by source, type and quality, PII is
never snapshotted; in a real shell, a real store and a notebook run by nbclient."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import execute_notebook, run

SETUP = """
import numpy as np, pandas as pd
from sklearn.linear_model import LogisticRegression
rng = np.random.default_rng(0)
train = pd.DataFrame({"age": rng.integers(18, 90, 400), "income": rng.normal(5e4, 1e4, 400),
                      "city": rng.choice(["Paris", "Lyon"], 400)})
train["label"] = (train.age > 50).astype(int)
"""


def _wait() -> None:
    from mlops_jupyter.capture import quality

    assert quality.wait(30)


def test_training_drafts_a_suite_and_a_later_version_is_checked(
    shell: Any, store: Any, capsys: Any
) -> None:
    run(shell, SETUP)
    run(shell, "clf = LogisticRegression(max_iter=500).fit(train[['age', 'income']], train.label)")
    _wait()
    run(shell, "x = 1")  # a plain shell shows the late line with the next cell
    out = capsys.readouterr().out
    assert "drafted" in out and "%mlops expect train" in out
    suite = store.find_suite("train")
    assert suite["status"] == "draft" and suite["change"] == "draft"
    assert [r["action"] for r in store.list_audit_records()] == ["expect_draft"]
    # a new version of train, out of range: checked, stored, one line, nothing raised
    run(shell, "train = train.assign(age=train.age + 300)")
    _wait()
    run(shell, "y = 2")
    out = capsys.readouterr().out
    assert "Data tests failed: train@2" in out and "age between" in out
    check = store.list_checks(name="train")[0]
    assert check["version"] == 2 and not check["passed"] and check["n_failed_rows"] == 400
    assert check["execution_id"] is not None
    assert store.dataset_tags("train", 2)["quality.tests"] == "failed"
    # the same content again is not checked twice
    run(shell, "train2 = train")
    _wait()
    assert len(store.list_checks(name="train")) == 1


def test_a_check_that_breaks_never_reaches_the_cell(shell: Any, store: Any) -> None:
    import warnings

    run(shell, SETUP)
    run(shell, "clf = LogisticRegression(max_iter=500).fit(train[['age', 'income']], train.label)")
    _wait()
    from mlops_jupyter.capture import checking, hooks

    hooks._warned.clear()
    original = checking.handle
    checking.handle = lambda after: 1 / 0
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            first = run(shell, "train = train.assign(income=0.0)")
            _wait()
            second = run(shell, "z = 3")
            run(shell, "train = train.assign(income=1.0)")
            _wait()
            run(shell, "z = 4")
        assert first.success and second.success and shell.user_ns["z"] == 4
        ours = [w for w in caught if "check the cell's data" in str(w.message)]
        assert len(ours) == 1 and "ZeroDivisionError" in str(ours[0].message)
    finally:
        checking.handle = original


def test_datasets_are_tagged_by_source_type_and_quality(
    shell: Any, store: Any, workdir: Path
) -> None:
    (workdir / "people.csv").write_text("name,age\nann,31\nbob,\ncy,40\n")
    run(shell, "import pandas as pd\npeople = pd.read_csv('people.csv')")
    run(shell, "from sklearn.datasets import load_wine\nwine = load_wine()\nX = wine.data")
    run(
        shell,
        "from sklearn.datasets import load_digits\ndigits = load_digits()\nX_img = digits.images",
    )
    run(
        shell,
        "ts_df = pd.DataFrame({'t': pd.date_range('2024-01-01', periods=5), 'v': range(5)})\n"
        "df = people.dropna()",
    )
    store.wait_for_writes()
    import mlops_jupyter as mj

    tags = {(r["name"], r["version"]): r["tags"] for r in mj.datasets().to_dict("records")}
    people = tags[("people", 1)]
    assert people["source"] == "file" and people["source.path"].endswith("people.csv")
    assert people["source.hash"] and people["type"] == "tabular"
    assert float(people["quality.completeness"]) == pytest.approx(5 / 6, abs=1e-3)
    assert tags[("X", 1)]["source"] == "loader" and tags[("X", 1)]["source.loader"] == "load_wine"
    assert tags[("X_img", 1)]["type"] == "image"
    assert tags[("ts_df", 1)]["type"] == "timeseries"
    assert tags[("df", 1)]["source"] == "cell" and tags[("df", 1)]["source.derived_from"] == (
        "people@1"
    )


def test_large_data_fingerprinted_after_the_cell_is_tagged_and_checked_the_same(
    shell: Any, store: Any, workdir: Path
) -> None:
    """Data over 1 MB gets its fingerprint on the writer thread (#18); tags, lineage and data
    tests must see the computed text, with no capture warning."""
    import warnings

    from mlops_jupyter.capture import quality

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a CaptureWarning fails the test
        run(shell, "import numpy as np, pandas as pd")
        frame = "pd.DataFrame(np.arange(400_000.0).reshape(-1, 5), columns=list('abcde'))"
        run(shell, f"{frame}.to_csv('big.csv', index=False)", check=True)
        run(shell, "big = pd.read_csv('big.csv')")  # 3.2 MB: fingerprinted after the cell
        run(shell, "%mlops expect big")
        run(shell, "bigger = big * 2")  # derived from it
        run(shell, "big.iloc[0, 0] = -1.0")  # a new version, checked against the suite
        store.wait_for_writes()
        assert quality.wait(30)
        import mlops_jupyter as mj

        tags = {(r["name"], r["version"]): r["tags"] for r in mj.datasets().to_dict("records")}
    assert tags[("big", 1)]["type"] == "tabular"
    assert tags[("bigger", 1)]["source.derived_from"] == "big@1"
    assert ("big", 2) in tags
    fps = [r["fingerprint"] for r in store.query("SELECT fingerprint FROM datasets")]
    ends = [r["dst_id"] for r in store.query("SELECT dst_id FROM lineage")]
    assert fps and all(isinstance(fp, str) and "Lazy" not in fp for fp in fps + ends)
    checks = store.query("SELECT * FROM dataset_checks")
    assert [c["version"] for c in checks if c["name"] == "big"] == [2]


def test_data_and_models_the_user_let_go_of_are_not_kept_alive_by_capture(
    shell: Any, store: Any
) -> None:
    """Once a captured cell is written and checked, nothing of ours holds its data: the writer
    and the checker kept the last cell's frame (and its model) until the next cell came, so a
    notebook that dropped a 10 GB frame still held it."""
    import gc
    import weakref

    from mlops_jupyter.capture import artifacts, quality

    run(shell, "import numpy as np, pandas as pd\nrng = np.random.default_rng(0)")
    run(shell, "%mlops expect frame --set 'rows >= 1'")  # the checker takes a snapshot of it
    run(shell, "a = rng.normal(size=(100_000, 20))\nframe = pd.DataFrame(a, copy=False)")
    run(shell, "from sklearn.linear_model import LinearRegression\n"
               "model = LinearRegression().fit(frame, a[:, 0])")  # fmt: skip
    held = [weakref.ref(shell.user_ns[name]) for name in ("a", "frame", "model")]
    store.wait_for_writes()
    assert quality.wait(30) and artifacts.flush(30)  # (the model's file is written from it)
    run(shell, "# mlops: skip\ndel a, frame, model")  # no cell record: no job after theirs
    store.wait_for_writes()
    assert quality.wait(30)
    gc.collect()
    assert [ref() is None for ref in held] == [True, True, True]
    assert store.query("SELECT name FROM datasets WHERE name = 'frame'")  # it was captured


def test_user_tags_filters_and_pii_is_never_snapshotted(
    shell: Any, store: Any, store_file: Path
) -> None:
    import mlops_jupyter as mj

    run(
        shell,
        "import pandas as pd\ncustomers_df = pd.DataFrame({'email': ['a@x', 'b@y'], 'n': [1, 2]})",
    )
    run(shell, "%mlops tag customers_df owner=risk pii=true")
    run(shell, "clean_df = customers_df[customers_df.n > 1]")
    run(shell, "other_df = pd.DataFrame({'n': [5, 6]})")
    store.wait_for_writes()
    found = mj.datasets(tag="pii=true")
    assert found["name"].tolist() == ["customers_df"]
    assert mj.datasets(tag=["owner=risk", "pii"])["name"].tolist() == ["customers_df"]
    assert mj.datasets(tag="owner=nobody").empty
    # a diff would snapshot a recorded frame's rows; not PII, nor data derived from it
    mj.diff(shell.user_ns["customers_df"], shell.user_ns["other_df"])
    mj.diff(shell.user_ns["clean_df"], shell.user_ns["other_df"])
    snaps = {r["name"]: r["snapshot"] for r in mj.datasets().to_dict("records")}
    assert snaps == {"customers_df": False, "clean_df": False, "other_df": True}
    mj.diff(shell.user_ns["customers_df"], shell.user_ns["other_df"], snapshot=True)  # asked
    assert mj.datasets("customers_df")["snapshot"].tolist() == [True]
    from click.testing import CliRunner

    from mlops_jupyter.cli import cli

    res = CliRunner().invoke(cli, ["--store", str(store_file), "datasets", "--tag", "pii=true"])
    assert res.exit_code == 0 and "customers_df" in res.output and "other_df" not in res.output
    bad = CliRunner().invoke(cli, ["--store", str(store_file), "datasets", "--tag", "=x"])
    assert bad.exit_code == 2 and "tag filter" in bad.output
    with pytest.raises(Exception, match="set by capture"):
        mj.tag("customers_df", source="mine")


NOTEBOOK = [
    "%load_ext mlops_jupyter",
    SETUP,
    "clf = LogisticRegression(max_iter=500).fit(train[['age', 'income']], train.label)",
    "import time; time.sleep(1.0)",
    "train = train.assign(age=train.age + 300)",
    "import time; time.sleep(1.0)",
    "x = 1",
]


@pytest.mark.slow
def test_a_headless_run_shows_the_draft_and_the_failed_check_in_their_cells(
    workdir: Path, store_file: Any
) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in NOTEBOOK])
    path = workdir / "dq.ipynb"
    nbformat.write(nb, path)
    done = execute_notebook(path, workdir)

    def text(i: int) -> str:
        return "".join(
            str(o.get("data", {}).get("text/plain", "")) + str(o.get("text", ""))
            for o in done.cells[i].outputs
        )

    assert "drafted" in text(2) and "train" in text(2)
    assert "Data tests failed: train@2" in text(4)
    assert "Data tests failed" not in text(6) and "drafted" not in text(3)
    from mlops_jupyter.store import open_store

    st = open_store(store_file, shared=False)
    try:
        assert not st.list_checks(name="train")[0]["passed"]
    finally:
        st.close()


def test_schema_and_type_read_every_kind_of_column_dtype() -> None:
    """The schema and the type tag read dtypes without ``DataFrame.dtypes`` (#18): they must
    say what pandas says for every kind of column, tz-aware and Arrow timestamps included."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from mlops_jupyter.capture.quality import infer_type
    from mlops_jupyter.capture.record import describe_dataset

    frame = pd.DataFrame(
        {
            "i": np.arange(3),
            "f": np.ones(3, dtype="float32"),
            "s": ["a", "b", "c"],
            "o": pd.Series([1, "x", None], dtype=object),
            "c": pd.Categorical(["a", "b", "a"]),
            "n": pd.array([1, None, 3], dtype="Int64"),
            "d": pd.to_timedelta([1, 2, 3], unit="s"),
        }
    )
    facts = describe_dataset(frame)
    assert facts is not None
    assert facts.schema == {str(c): str(t) for c, t in frame.dtypes.items()}
    assert infer_type(frame) == "tabular"
    for stamps in (
        pd.date_range("2024-01-01", periods=3, tz="Europe/Paris"),
        pd.array(pd.date_range("2024-01-01", periods=3), dtype=pd.ArrowDtype(pa.timestamp("us"))),
    ):
        assert infer_type(frame.assign(t=stamps)) == "timeseries"
    assert infer_type(pd.DataFrame({"text": ["one two three four five"] * 3})) == "text"
