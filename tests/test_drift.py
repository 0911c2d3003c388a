"""Drift reports: verdicts, overrides, awkward data, the store, history, magic and CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlops_jupyter.analysis.drift import drift, drift_history
from mlops_jupyter.errors import AnalysisError, InvalidInput


def frames(n: int, m: int | None = None, *, shift: bool = True, seed: int = 1):
    """Reference and current with 3 shifted columns out of 6 (when ``shift``)."""
    rng = np.random.default_rng(seed)
    m = m or n

    def make(k: int, moved: bool) -> pd.DataFrame:
        s = 0.6 if moved else 0.0
        return pd.DataFrame(
            {
                "age": rng.normal(40 + 10 * s, 10, k),
                "income": rng.lognormal(10, 0.5, k),
                "score": rng.normal(0, 1 + s, k),
                "city": rng.choice(
                    ["paris", "lyon", "nice"], k, p=[0.2, 0.3, 0.5] if moved else [0.5, 0.3, 0.2]
                ),
                "plan": rng.choice(["free", "pro"], k, p=[0.8, 0.2]),
                "visits": rng.integers(0, 4, k),
            }
        )

    return make(n, False), make(m, shift)


def register(*names: str, store: Any = None) -> None:
    """Register a tiny fitted model under each name: drift reports link to registered models."""
    from sklearn.dummy import DummyClassifier

    import mlops_jupyter as mj

    model = DummyClassifier().fit([[0], [1]], [0, 1])
    for name in names:
        mj.register_model(model, name, store=store)


@pytest.mark.parametrize("n", [600, 5000])
def test_shifted_columns_flagged_and_verdict_consistent(n: int) -> None:
    ref, cur = frames(n)
    report = drift(ref, cur, save=False)
    flagged = set(report.drifted_columns)
    assert {"age", "score", "city"} <= flagged
    assert not flagged & {"income", "plan"}
    assert report.n_tested == 6
    assert report.share == pytest.approx(report.n_drifted / 6)
    assert report.drifted == (report.share >= 0.5)
    tests = dict(zip(report.columns["column"], report.columns["test"]))
    if n <= 1000:
        assert tests == {
            "age": "ks",
            "income": "ks",
            "score": "ks",
            "city": "chisquare",
            "plan": "z",
            "visits": "chisquare",
        }
        assert report.columns["p_value"].notna().all()
    else:
        assert tests["age"] == "wasserstein" and tests["city"] == "jensenshannon"
        assert tests["visits"] == "jensenshannon"
    assert report.columns["psi"].notna().all()
    # as in Evidently 0.7, integers with at most 10 distinct values are categories
    assert report.columns.set_index("column").loc["visits", "type"] == "categorical"
    stricter = drift(ref, cur, save=False, drift_share=0.9)
    assert stricter.share == report.share and not stricter.drifted


def test_overrides_per_column_and_per_type() -> None:
    ref, cur = frames(3000)
    report = drift(ref, cur, save=False, tests={"age": "psi", "numeric": ("ks", 0.01), "city": 0.9})
    by = report.columns.set_index("column")
    assert by.loc["age", "test"] == "psi" and by.loc["age", "statistic"] == by.loc["age", "psi"]
    assert by.loc["score", "test"] == "ks" and by.loc["score", "threshold"] == 0.01
    assert by.loc["city", "test"] == "jensenshannon" and by.loc["city", "threshold"] == 0.9
    assert not by.loc["city", "drifted"]
    with pytest.raises(InvalidInput, match="Unknown drift test"):
        drift(ref, cur, save=False, tests={"age": "magic"})
    with pytest.raises(InvalidInput, match="needs numbers"):
        drift(ref, cur, save=False, tests={"city": "ks"})
    with pytest.raises(InvalidInput, match="neither a compared column"):
        drift(ref, cur, save=False, tests={"nope": "ks"})
    with pytest.raises(InvalidInput, match="not in the current"):
        drift(ref, cur.drop(columns="age"), save=False, columns=["age"])


def test_awkward_data_is_noted_not_fatal() -> None:
    rng = np.random.default_rng(1)
    n = 400
    ref = pd.DataFrame(
        {
            "with_nan": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
            "constant": np.ones(n),
            "all_null_cur": rng.normal(size=n),
            "all_null_both": [None] * n,
            "mixed": [1, "a", 2.5, "b"] * (n // 4),
            "cats": rng.choice(["x", "y", "z"], n),
            "when": pd.date_range("2024-01-01", periods=n, freq="h"),
            "infs": np.r_[np.inf, rng.normal(size=n - 1)],
            "only_ref": 1,
        }
    )
    cur = ref.drop(columns="only_ref").assign(
        all_null_cur=np.nan,
        cats=rng.choice(["x", "y", "new1", "new2"], n),
        constant=np.ones(n),
        only_cur=2,
    )
    cur = pd.concat([cur, cur[["cats"]].rename(columns={"cats": "dup"})] * 1, axis=1)
    cur = pd.concat([cur, cur[["dup"]]], axis=1)
    report = drift(ref.assign(dup="a"), cur, save=False)
    by = report.columns.set_index("column")
    assert any("duplicate column names, not tested: dup" in n for n in report.notes)
    assert "missing: 10" in by.loc["with_nan", "note"]
    assert (
        "constant in reference" in by.loc["constant", "note"] and not by.loc["constant", "drifted"]
    )
    assert (
        by.loc["all_null_cur", "drifted"]
        and "all values missing in current" in by.loc["all_null_cur", "note"]
    )
    assert "not tested" in by.loc["all_null_both", "note"]
    assert "mixed types" in by.loc["mixed", "note"]
    assert "2 categories not in reference" in by.loc["cats", "note"]
    assert pd.isna(by.loc["when", "test"]) and "date/time" in by.loc["when", "note"]
    assert "1 infinite values" in by.loc["infs", "note"]
    assert any("only in reference" in n for n in report.notes)
    assert any("only in current" in n for n in report.notes)
    assert "only_ref" not in by.index
    assert report.to_html()


def test_target_prediction_and_concept_drift() -> None:
    rng = np.random.default_rng(2)
    n = 2000
    ref, cur = frames(n, shift=False, seed=3)
    y_ref, y_cur = rng.integers(0, 2, n), rng.integers(0, 2, n)
    ref["label"], cur["label"] = y_ref, y_cur
    ref["pred"] = np.where(rng.random(n) < 0.9, y_ref, 1 - y_ref)  # 90% right
    cur["pred"] = np.where(rng.random(n) < 0.6, y_cur, 1 - y_cur)  # 60% right
    report = drift(ref, cur, save=False, target="label", prediction="pred")
    assert "label" not in set(report.columns["column"])
    assert report.target is not None and report.target["column"] == "label"
    assert report.prediction is not None and report.prediction["test"] == "jensenshannon"
    perf = report.performance.set_index("metric")
    assert perf.loc["accuracy", "reference"] == pytest.approx(np.mean(ref["pred"] == y_ref))
    assert perf.loc["accuracy", "current"] == pytest.approx(np.mean(cur["pred"] == y_cur))
    assert perf.loc["accuracy", "change"] < -0.2
    assert any("concept-drift" in n for n in report.notes)
    scores = drift(
        ref, cur.assign(pred=rng.random(n)), save=False, target="label", prediction="pred"
    )
    assert scores.performance is None and any("holds scores" in n for n in scores.notes)
    with pytest.raises(AnalysisError, match="no rows"):
        drift(ref, cur.head(0), save=False)
    reg_ref = pd.DataFrame({"x": rng.normal(size=500), "y": rng.normal(size=500)})
    reg_ref["p"] = reg_ref["y"] + rng.normal(0, 0.1, 500)
    reg_cur = reg_ref.assign(p=reg_ref["y"] + rng.normal(0, 1.0, 500))
    perf = drift(reg_ref, reg_cur, save=False, target="y", prediction="p").performance
    assert list(perf["metric"]) == ["rmse", "mae"]
    assert perf.set_index("metric").loc["rmse", "current"] == pytest.approx(
        np.sqrt(np.mean((reg_cur["p"] - reg_cur["y"]) ** 2))
    )


def test_html_small_escaped_no_iframe() -> None:
    rng = np.random.default_rng(4)
    n = 100_000
    data = {f"n{i}": rng.normal(size=n) for i in range(20)}
    data.update({f"c{i}": rng.choice(list("abcdefghijkl"), n) for i in range(4)})
    data["<script>alert(1)</script>"] = rng.choice(["<b>x</b>", "y"], n)
    ref = pd.DataFrame(data)
    cur = ref.sample(frac=1.0, random_state=1).reset_index(drop=True)
    cur["n0"] = cur["n0"] + 1
    html = drift(ref, cur, save=False).to_html()
    assert len(html.encode()) < 500_000
    assert "<iframe" not in html and "<script>" not in html
    assert "&lt;script&gt;" in html and "<svg" in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_saved_report_profile_lineage_and_stored_reference(store: Any) -> None:
    ref, cur = frames(1500)
    register("churn", store=store)
    first = drift(ref, cur, store=store, model="churn", reference_name="train")
    assert first.id
    row = store.get_drift_report(first.id)
    assert row["model_name"] == "churn" and row["n_drifted"] == first.n_drifted
    assert row["reference_name"] == "train" and bool(row["drifted"]) == first.drifted
    cols = store.query("SELECT * FROM drift_columns WHERE report_id = ?", (first.id,))
    assert {c["column_name"] for c in cols} == set(first.columns["column"])
    edges = store.edges(node=("drift_report", first.id))
    relations = {(e["src_type"], e["relation"], e["dst_type"]) for e in edges}
    assert ("dataset", "reference", "drift_report") in relations
    assert ("dataset", "current", "drift_report") in relations
    assert ("drift_report", "monitors", "registered_model") in relations
    from mlops_jupyter.capture.fingerprint import fingerprint

    profile = store.find_drift_profile(fingerprint(ref))
    assert profile is not None and set(profile["profile"]) == set(ref.columns)
    # a later batch against the stored profile, without the reference rows: exact at 1500 rows
    again = drift("train", cur, store=store, model="churn")
    pd.testing.assert_frame_equal(
        again.columns.drop(columns="note"), first.columns.drop(columns="note")
    )
    assert again.reference == "train"
    # a large reference is kept as a quantile sketch: close, and said so
    big_ref, big_cur = frames(20_000, seed=9)
    exact = drift(big_ref, big_cur, store=store, reference_name="big")
    approx = drift("big", big_cur, store=store)
    merged = exact.columns.merge(approx.columns, on="column")
    assert (merged["drifted_x"] == merged["drifted_y"]).all()
    assert np.allclose(merged["statistic_x"], merged["statistic_y"], atol=0.02)
    assert "approximate" in approx.columns.set_index("column").loc["age", "note"]
    with pytest.raises(Exception, match="No variable, stored dataset or reference profile"):
        drift("nothing-here", cur, store=store)


def test_history_over_time(store: Any) -> None:
    ref, _ = frames(800, shift=False)
    register("churn", "other", "quiet", store=store)
    for i, shift in enumerate([False, False, True]):
        _, cur = frames(800, shift=shift, seed=10 + i)
        drift(ref, cur, store=store, model="churn", reference_name="train")
    drift(ref, frames(800, seed=20)[1], store=store, model="other")
    history = drift_history(model="churn", store=store)
    assert len(history.reports) == 3
    assert list(history.reports["drifted"]) == [False, False, True]
    assert set(history.columns["column"]) == set(ref.columns)
    assert history.columns["created_at"].is_monotonic_increasing
    assert len(drift_history(store=store).reports) == 4
    html = history.to_html()
    assert "<polyline" in html and "churn" in html
    assert "No drift report" in drift_history(model="quiet", store=store).to_html()


def test_magic_resolves_variables_then_store(shell: Any) -> None:
    from IPython.core.error import UsageError

    assert shell.run_cell("import pandas as pd", store_history=True).success
    ref, cur = frames(700)
    shell.user_ns.update(ref_df=ref, cur_df=cur)
    register("churn")
    report = shell.run_line_magic("mlops", "drift ref_df cur_df --model churn --test age=psi")
    assert report.reference == "ref_df" and report.model == "churn"
    assert report.columns.set_index("column").loc["age", "test"] == "psi"
    # the stored profile of ref_df is found by name once the variable is gone
    del shell.user_ns["ref_df"]
    later = shell.run_line_magic("mlops", "drift ref_df cur_df --columns age,city --no-save")
    assert list(later.columns["column"]) == ["age", "city"]
    history = shell.run_line_magic("mlops", "drift --history --model churn")
    assert len(history.reports) == 1
    for line, message in [
        ("drift ref_only", "Name a reference and a current"),
        ("drift a b --test age", "Expected --test"),
        ("drift nowhere cur_df", "No variable, stored dataset"),
        ("drift --bogus", "unrecognized arguments"),
    ]:
        with pytest.raises(UsageError, match=message) as info:
            shell.run_line_magic("mlops", line)
        assert type(info.value) is UsageError and "\n" not in str(info.value)


def test_magic_error_shows_one_line(shell: Any, capsys: pytest.CaptureFixture[str]) -> None:
    shell.run_cell("%mlops drift missing1 missing2", store_history=True)
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "No variable, stored dataset" in text and "Traceback" not in text


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    ref, cur = frames(1200)
    same = frames(1200, shift=False, seed=5)[1]
    out = {
        "ref": tmp_path / "ref.csv",
        "cur": tmp_path / "cur.parquet",
        "same": tmp_path / "same.csv",
    }
    ref.to_csv(out["ref"], index=False)
    cur.to_parquet(out["cur"], index=False)
    same.to_csv(out["same"], index=False)
    (tmp_path / "bad.csv").write_text("")
    out["bad"] = tmp_path / "bad.csv"
    return out


def test_cli_exit_codes_and_output(workdir: Path, files: dict[str, Path]) -> None:
    from click.testing import CliRunner

    from mlops_jupyter.cli import cli

    runner = CliRunner()
    drifted = runner.invoke(cli, ["drift", str(files["ref"]), str(files["cur"])])
    assert drifted.exit_code == 1, drifted.output
    assert drifted.output.startswith("DRIFT: 3 of 6 columns drifted")
    assert "age" in drifted.output and "DRIFT" in drifted.output.splitlines()[2] + drifted.output
    calm = runner.invoke(cli, ["drift", str(files["ref"]), str(files["same"]), "--no-save"])
    assert calm.exit_code == 0, calm.output
    assert calm.output.startswith("NO DRIFT: 0 of 6")
    as_json = runner.invoke(
        cli,
        [
            "drift",
            str(files["ref"]),
            str(files["cur"]),
            "--json",
            "--columns",
            "age,plan",
            "--test",
            "numeric=ks:0.01",
        ],
    )
    data = json.loads(as_json.output)
    assert as_json.exit_code == (1 if data["drifted"] else 0)
    assert [c["column"] for c in data["columns"]] == ["age", "plan"]
    assert data["columns"][0]["test"] == "ks" and data["columns"][0]["threshold"] == 0.01
    # the reference's profile was stored by the first call: check a batch against its name
    stored = runner.invoke(cli, ["drift", "ref.csv", str(files["cur"]), "--no-save"])
    assert stored.exit_code == 1, stored.output
    for args in (
        [str(files["bad"]), str(files["cur"])],
        [str(files["ref"]), "no-such-file.csv"],
        ["no-such-dataset", str(files["cur"])],
        [str(files["ref"]), str(files["cur"]), "--columns", "nope"],
        [str(files["ref"]), str(files["cur"]), "--test", "age=bogus"],
    ):
        bad = runner.invoke(cli, ["drift", *args])
        assert bad.exit_code == 2, (args, bad.output)
        assert "Error:" in bad.output and "Traceback" not in bad.output


def test_links_to_captured_datasets_and_reads_snapshots(shell: Any, store_file: Path) -> None:
    """Variables captured as datasets share their fingerprints with the report's edges; a
    stored version with a parquet snapshot can be the current side."""
    import io

    from mlops_jupyter.store import open_store

    code = (
        "import numpy as np, pandas as pd\n"
        "rng = np.random.default_rng(0)\n"
        "ref_df = pd.DataFrame({'x': rng.normal(size=500), 'k': rng.choice(list('ab'), 500)})\n"
        "cur_df = pd.DataFrame({'x': rng.normal(1, 1, 500), 'k': rng.choice(list('ab'), 500)})\n"
    )
    assert shell.run_cell(code, store_history=True).success
    report = shell.run_line_magic("mlops", "drift ref_df cur_df")
    assert report.drifted_columns == ["x"]
    st = open_store(store_file, shared=False)
    try:
        captured = {d["name"]: d["fingerprint"] for d in st.list_datasets()}
        assert "ref_df" in captured, captured  # capture records DataFrames a cell writes
        edges = st.edges(node=("dataset", captured["ref_df"]))
        assert any(e["dst_id"] == report.id and e["relation"] == "reference" for e in edges)
        # give cur_df's stored version a parquet snapshot: it can then be named as `current`
        from mlops_jupyter.capture.record import record_dataset

        cur = shell.user_ns["cur_df"]
        row = record_dataset(st, "batch", cur)
        buf = io.BytesIO()
        cur.to_parquet(buf, index=False)
        digest = st.put_artifact(buf.getvalue(), "application/vnd.apache.parquet")
        with st.write():
            st.conn.execute(
                "UPDATE dataset_contents SET snapshot_hash = ? WHERE fingerprint = ?",
                (digest, row["fingerprint"]),
            )
        again = drift("ref_df", "batch@1", store=st)
        assert again.current == "batch@1" and again.drifted_columns == ["x"]
        assert again.columns.set_index("column").loc["x", "statistic"] == pytest.approx(
            report.columns.set_index("column").loc["x", "statistic"]
        )
    finally:
        st.close()


def test_unknown_model_is_refused_before_anything_is_saved(store: Any, store_file: Any, tmp_path):
    from click.testing import CliRunner

    from mlops_jupyter.cli import cli
    from mlops_jupyter.errors import ModelNotFound

    ref, cur = frames(300)
    with pytest.raises(ModelNotFound, match="none is registered yet"):
        drift(ref, cur, store=store, model="nosuchmodel")
    register("churn", store=store)
    with pytest.raises(ModelNotFound, match=r"'nosuchmodel' \(registered: 'churn'\)"):
        drift(ref, cur, store=store, model="nosuchmodel")
    with pytest.raises(ModelNotFound, match="'nope'"):
        drift_history(model="nope", store=store)
    assert store.list_drift_reports() == []
    assert store.query("SELECT COUNT(*) AS n FROM drift_profiles")[0]["n"] == 0
    ref.to_csv(tmp_path / "a.csv", index=False)
    cur.to_csv(tmp_path / "b.csv", index=False)
    args = ["--store", str(store_file), "drift", str(tmp_path / "a.csv"), str(tmp_path / "b.csv")]
    result = CliRunner().invoke(cli, [*args, "--model", "nosuchmodel"])
    assert result.exit_code == 2 and "No registered model named 'nosuchmodel'" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert store.list_drift_reports() == []
    assert CliRunner().invoke(cli, [*args, "--model", "churn"]).exit_code in (0, 1)
    assert [r["model_name"] for r in store.list_drift_reports()] == ["churn"]


def test_magic_history_of_an_unknown_model_is_one_line(shell: Any) -> None:
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match="No registered model named 'nope'") as info:
        shell.run_line_magic("mlops", "drift --history --model nope")
    assert type(info.value) is UsageError and "\n" not in str(info.value)
