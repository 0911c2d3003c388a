"""Data tests (#16): the rule language, drafting from a profile, checks, pandera, versions and
the audit trail, and the magic and CLI twins, on real store files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from IPython.core.error import UsageError

from mlops_jupyter.analysis.checks import check_frame
from mlops_jupyter.analysis.expectations import Suite, draft_rules
from mlops_jupyter.analysis.rules import Rule, parse_rule
from mlops_jupyter.capture.profile import profile
from mlops_jupyter.capture.record import record_dataset
from mlops_jupyter.errors import InvalidInput


def frame(n: int = 1000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": np.arange(n),
            "age": rng.integers(18, 90, n),
            "income": rng.normal(50_000, 10_000, n),
            "city": rng.choice(["Paris", "Lyon", "Nice"], n),
            "score": np.where(rng.random(n) < 0.02, np.nan, rng.random(n)),
        }
    )


def suite_of(df: pd.DataFrame, **kw: Any) -> Suite:
    rules = draft_rules(
        profile(df), {str(c): str(t) for c, t in df.dtypes.items()}, len(df), "dataframe"
    )
    return Suite("train", 1, "draft", tuple(rules), **kw)


# -- the rule language ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "rows between 100 and 5000",
        "rows >= 100",
        "columns are id, age, city",
        "columns include id, age",
        "age is integer",
        "age not null",
        "age nulls at most 5%",
        "age between 0 and 120",
        "age >= 0",
        "income <= 1000000",
        'city in [Lyon, Paris, "New York"]',
        "id unique",
        '"net income" between -5 and 5.5',
    ],
)
def test_every_rule_reads_back_as_written(text: str) -> None:
    rule = parse_rule(text)
    assert rule.text == text
    assert parse_rule(rule.text) == rule
    assert Rule.from_dict(rule.to_dict()) == rule


def test_rule_ids_name_the_slot_a_rule_replaces() -> None:
    assert parse_rule("age not null").id == parse_rule("age nulls at most 5%").id == "age:nulls"
    assert parse_rule("age >= 0").id == "age:between"
    assert parse_rule("rows <= 3").id == "rows"


@pytest.mark.parametrize(
    "text, why",
    [
        ("age between 10 and 5", "above"),
        ("age is wibble", "one of"),
        ("age frobs", "no rule form"),
        ("age nulls at most 150%", "between 0% and 100%"),
        ("", "empty"),
        ("city in []", "no allowed values"),
    ],
)
def test_a_bad_rule_says_how_to_write_one(text: str, why: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_rule(text)
    message = str(info.value)
    assert why in message and "age between 0 and 120" in message and "\n" not in message


# -- drafting ------------------------------------------------------------------------------------


def test_a_draft_covers_types_nulls_ranges_categories_keys_and_rows() -> None:
    rules = {r.id: r for r in suite_of(frame()).rules}
    assert rules["rows"].min == 100 and rules["rows"].max == 10_000
    assert set(rules["columns"].columns) == {"customer_id", "age", "income", "city", "score"}
    assert rules["age:dtype"].dtype == "integer" and rules["city:dtype"].dtype == "string"
    assert rules["age:nulls"].kind == "not_null"
    assert rules["score:nulls"].kind == "nulls" and 0.05 < rules["score:nulls"].max_share < 0.1
    # 18..89 widened by 10 % of the span, whole numbers for an integer column
    assert (rules["age:between"].min, rules["age:between"].max) == (10, 97)
    assert rules["score:between"].min == 0  # never negative: stays non-negative
    assert rules["city:in"].values == ("Lyon", "Nice", "Paris")
    assert rules["customer_id:unique"].kind == "unique"
    assert "customer_id:between" not in rules  # a key is not a measurement


def test_many_categories_or_a_sample_draft_no_allowed_values() -> None:
    df = pd.DataFrame({"word": [f"w{i % 50}" for i in range(500)]})
    ids = {r.id for r in suite_of(df).rules}
    assert "word:in" not in ids and "word:dtype" in ids


# -- checking ------------------------------------------------------------------------------------


def test_the_data_it_was_drafted_from_passes_and_new_data_fails_where_it_differs() -> None:
    df = frame()
    suite = suite_of(df)
    assert check_frame(df, suite).passed
    assert check_frame(frame(seed=1), suite).passed  # same kind of data
    bad = df.copy()
    bad.loc[3, "age"] = 150
    bad.loc[[5, 6], "city"] = "Berlin"
    bad.loc[7, "customer_id"] = 8
    bad.loc[500:700, "score"] = np.nan
    result = check_frame(bad, suite, dataset="batch")
    failed = result.failed.set_index("id")
    assert set(failed.index) == {"age:between", "city:in", "customer_id:unique", "score:nulls"}
    assert failed.loc["age:between", "failed_rows"] == 1
    assert failed.loc["age:between", "examples"] == [150]
    assert failed.loc["city:in", "failed_rows"] == 2
    assert failed.loc["customer_id:unique", "failed_rows"] == 2
    assert result.n_failed_rows == 1 + 2 + 2 + int(bad["score"].isna().sum())
    assert set(result.failures.query("rule == 'city:in'")["row"]) == {5, 6}
    summary = result.summary()
    assert summary.startswith("Data tests failed: batch, 4 of") and "\n" not in summary
    assert result.to_dict()["n_failed_rules"] == 4
    json.dumps(result.to_dict())  # plain JSON for --json and the store


def test_missing_columns_and_changed_types_are_failed_rules_not_errors() -> None:
    suite = suite_of(frame())
    bad = frame().drop(columns=["city"]).assign(age=lambda d: d["age"].astype(str) + "y", extra=1)
    result = check_frame(bad, suite)
    failed = result.failed.set_index("id")
    assert "missing city" in failed.loc["columns", "detail"]
    assert "unexpected extra" in failed.loc["columns", "detail"]
    assert "missing" in failed.loc["city:in", "detail"]
    assert "expected integer" in failed.loc["age:dtype", "detail"]
    assert failed.loc["age:between", "failed_rows"] == len(bad)  # not numbers


def test_integers_stored_as_floats_pass_unless_they_have_fractions() -> None:
    suite = Suite("s", 1, "accepted", (parse_rule("n is integer"),))
    assert check_frame(pd.DataFrame({"n": [1.0, 2.0, np.nan]}), suite).passed
    result = check_frame(pd.DataFrame({"n": [1.0, 2.5]}), suite)
    assert not result.passed and result.rules.loc[0, "failed_rows"] == 1


def test_arrays_and_series_are_named_as_their_profile_names_them() -> None:
    X = np.random.default_rng(0).normal(size=(200, 3))
    rules = draft_rules(profile(X), {}, 200, "ndarray")
    suite = Suite("X", 1, "draft", tuple(rules))
    assert {r.column for r in rules if r.column} == {"0", "1", "2"}
    assert check_frame(X, suite).passed
    assert not check_frame(X * 100, suite).passed


def test_a_million_rows_check_in_well_under_two_seconds() -> None:
    n = 1_000_000
    rng = np.random.default_rng(0)
    df = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(20)})
    for i in range(5):
        df[f"c{i}"] = pd.Series(rng.choice(["a", "b", "c", "d"], n))
    suite = suite_of(df.head(50_000))
    result = check_frame(df, suite)
    assert len(result.rules) > 60
    assert result.duration_s < 2.0, result.duration_s


# -- pandera -------------------------------------------------------------------------------------


def test_to_pandera_enforces_the_same_rules() -> None:
    pytest.importorskip("pandera")
    from pandera.errors import SchemaErrors

    df = frame()
    suite = suite_of(df)
    schema = suite.to_pandera()
    schema.validate(df)
    bad = df.copy()
    bad.loc[3, "age"] = 150
    bad.loc[5, "city"] = "Berlin"
    with pytest.raises(SchemaErrors) as info:
        schema.validate(bad, lazy=True)
    failing = set(info.value.failure_cases["column"].dropna())
    assert {"age", "city"} <= failing
    assert set(info.value.failure_cases["failure_case"].astype(str)) >= {"150", "Berlin"}
    with pytest.raises(SchemaErrors):
        schema.validate(df.assign(extra=1), lazy=True)  # 'columns are' is strict


# -- versions, audit, API ------------------------------------------------------------------------


def test_every_change_is_a_version_and_an_audit_record(store: Any) -> None:
    import mlops_jupyter as mj
    from mlops_jupyter.registry.audit import verify

    record_dataset(store, "train", frame())
    s1 = mj.expect("train", store=store)
    assert (s1.version, s1.status, s1.change) == (1, "draft", "draft")
    s2 = mj.expect("train", set=["age between 0 and 120"], drop=["score:nulls"], store=store)
    assert s2.version == 2 and s2.status == "draft"
    assert s2.rule("age:between").text == "age between 0 and 120"
    assert "score:nulls" not in {r.id for r in s2.rules}
    s3 = mj.expect("train", accept=True, store=store, by="ana")
    assert (s3.version, s3.status, s3.created_by) == (3, "accepted", "ana")
    assert mj.expect("train", accept=True, store=store).version == 3  # nothing to change
    assert mj.expectations("train@1", store=store).status == "draft"
    records = [r for r in store.list_audit_records() if r["name"] == "train"]
    assert [r["action"] for r in records] == ["expect_draft", "expect_change", "expect_accept"]
    assert [(r["from_version"], r["to_version"]) for r in records] == [(None, 1), (1, 2), (2, 3)]
    assert "set age between 0 and 120" in records[1]["reason"]
    assert records[2]["who"] == "ana"
    assert verify(store).ok
    listing = mj.expectations(store=store)
    assert listing.to_dict("records")[0]["version"] == 3


def test_unknown_names_and_rules_are_one_line_errors(store: Any) -> None:
    import mlops_jupyter as mj
    from mlops_jupyter.errors import MlopsError

    with pytest.raises(MlopsError, match="expect nope --set"):
        mj.expect("nope", store=store)
    record_dataset(store, "train", frame())
    mj.expect("train", store=store)
    with pytest.raises(InvalidInput, match="No rule 'zzz' to drop"):
        mj.expect("train", drop=["zzz"], store=store)
    with pytest.raises(InvalidInput, match="not a suite name"):
        mj.expect("bad name!", store=store)


def test_mj_check_of_a_recorded_frame_finds_its_suite_and_records_quality(store: Any) -> None:
    import mlops_jupyter as mj

    df = frame()
    record_dataset(store, "train", df)
    mj.expect("train", store=store)
    bad = df.assign(age=df["age"] + 200)
    record_dataset(store, "train", bad)
    result = mj.check(bad, store=store)
    assert not result.passed and result.dataset == "train@2" and result.suite == "train"
    assert store.dataset_tags("train", 2)["quality.tests"] == "failed"
    assert store.list_checks(name="train")[0]["n_failed_rules"] == 1
    with pytest.raises(InvalidInput, match="Say which suite"):
        mj.check(frame(seed=5), store=store)


def test_checks_of_pii_data_keep_counts_but_no_values(store: Any) -> None:
    """A failing value of data tagged pii is not written into the store's check results."""
    import mlops_jupyter as mj

    df = frame()
    record_dataset(store, "people", df)
    mj.expect("people", store=store)
    bad = df.assign(age=df["age"] + 200)
    record_dataset(store, "people", bad)
    mj.tag("people", {"pii": "true"}, store=store)
    with pytest.warns(UserWarning, match="Did you mean 'people'"):  # a typo is not silent
        mj.tag("peple", {"pii": "true"}, store=store)
    result = mj.check(bad, store=store)
    assert not result.passed and any(len(e) for e in result.rules["examples"])  # shown to you
    (stored,) = store.list_checks(name="people")
    failing = [r for r in stored["result"]["rules"] if not r["passed"]]
    assert [r["id"] for r in failing] == ["age:between"] and failing[0]["failed_rows"] > 0
    assert failing[0]["examples"] == []


# -- the magic and the CLI -----------------------------------------------------------------------


def test_magic_drafts_edits_and_accepts(shell: Any) -> None:
    shell.user_ns["train"] = frame()
    shell.run_cell("train = train.copy()", store_history=True)  # captured: a dataset named train
    suite = shell.run_line_magic("mlops", "expect train")
    assert suite.version == 1 and "Data tests: train" in suite._repr_html_()
    edited = shell.run_line_magic("mlops", 'expect train --set "age between 0 and 120" --accept')
    assert edited.status == "accepted" and edited.rule("age:between").max == 120
    with pytest.raises(UsageError) as info:
        shell.run_line_magic("mlops", 'expect train --set "age frobs"')
    assert "\n" not in str(info.value) and "age between 0 and 120" in str(info.value)
    result = shell.run_line_magic("mlops", "check train")
    assert result.passed


def _cli(args: list[str], store: Path) -> Any:
    from mlops_jupyter.cli import cli

    return CliRunner().invoke(cli, ["--store", str(store), *args], catch_exceptions=False)


def test_cli_check_exit_codes_and_json(store: Any, store_file: Path, tmp_path: Path) -> None:
    df = frame()
    record_dataset(store, "train", df)
    assert _cli(["expect", "train", "--accept"], store_file).exit_code == 0
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    df.to_csv(good, index=False)
    df.assign(age=df["age"] * 10).to_csv(bad, index=False)
    ok = _cli(["check", str(good), "--suite", "train"], store_file)
    assert ok.exit_code == 0 and ok.output.startswith("Data tests passed")
    failed = _cli(["check", str(bad), "--suite", "train", "--json"], store_file)
    assert failed.exit_code == 1

    def strict(token: str) -> None:
        raise AssertionError(f"{token} is not JSON")

    payload = json.loads(failed.output, parse_constant=strict)  # no NaN for strict parsers
    assert payload["passed"] is False and payload["n_failed_rules"] == 1
    assert [r["id"] for r in payload["rules"] if not r["passed"]] == ["age:between"]
    garbage, image = tmp_path / "garbage.csv", tmp_path / "other.csv"
    garbage.write_bytes(bytes(range(256)) * 40)  # not even csv: a parse error, on one line
    image.write_text("x,y\n1,2\n3,4\n")  # a table, but not this one: bad input too
    for args, needle in [
        (["check", str(garbage), "--suite", "train"], "Cannot read"),
        (["check", str(image), "--suite", "train"], "none of the columns"),
        (["check", str(good), "--suite", "nope"], "No expectation suite 'nope'"),
        (["check", str(tmp_path / "missing.csv"), "--suite", "train"], "No file"),
        (["check", "train@9", "--suite", "train"], "train@9"),
        (["check", "train", "--suite", "train"], "no stored rows"),
    ]:
        res = _cli(args, store_file)
        assert res.exit_code == 2, (args, res.output)
        assert needle in res.output and "Traceback" not in res.output
        assert len(res.output.strip().splitlines()) == 1, res.output
