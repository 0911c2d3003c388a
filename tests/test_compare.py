"""Comparison as data: the runs table, the filter language, best, groups, steps, diffs, HTML."""

from __future__ import annotations

import html.parser
import math
import statistics
from typing import Any

import pytest

from mlops_jupyter.analysis.compare import compare, constant_params, register_column
from mlops_jupyter.analysis.query import parse_query
from mlops_jupyter.errors import ExperimentNotFound, InvalidInput, RunNotFound

MODEL = ["rf", "rf", "rf", "gb", "gb", "gb"]
DEPTH = [2, 4, 6, 2, 4, 6]
SEED = [0, 1, 0, 1, 0, 1]
STEPS = 4


def auc_at(i: int, step: int) -> float:
    return 0.5 + 0.05 * i + 0.01 * step


def loss_of(i: int) -> float:
    return 1.0 - 0.1 * i


def populate(store: Any, experiment: str = "churn") -> dict[str, str]:
    """Six finished runs r0..r5 (params, stepped auc, loss, two cells, a dataset, an env).

    Runs r0-r2 read dataset ``train`` v1 under numpy 2.0; r3-r5 read ``train`` v2 under
    numpy 2.1 (plus xgboost). Cell 2's code mentions the run's depth, so it differs by run.
    """
    env_old = store.record_environment("3.11.7", "linux", {"numpy": "2.0.0", "pandas": "3.0"})
    env_new = store.record_environment(
        "3.11.7", "linux", {"numpy": "2.1.0", "pandas": "3.0", "xgboost": "2.1"}
    )
    fp_v1, fp_v2 = "a" * 32, "b" * 32
    for fp in (fp_v1, fp_v2):
        store.record_dataset_content(fp, kind="dataframe", n_rows=100, n_cols=5)
    ids: dict[str, str] = {}
    for i in range(6):
        run = store.create_run(
            experiment, name=f"r{i}", environment_id=env_old if i < 3 else env_new
        )
        rid = run["id"]
        load = store.add_execution(
            rid,
            code="import pandas as pd\ntrain = pd.read_csv('train.csv')",
            code_hash="load",
            started_at="2026-01-01T00:00:00+00:00",
            duration_s=0.1,
            status="ok",
            execution_count=1,
        )
        fit = store.add_execution(
            rid,
            code=f"model = Forest(depth={DEPTH[i]})\nmodel.fit(train)\nauc = score(model)",
            code_hash=f"fit-{DEPTH[i]}-{MODEL[i]}",
            started_at="2026-01-01T00:00:01+00:00",
            duration_s=0.5,
            status="ok",
            execution_count=2,
        )
        fp = fp_v1 if i < 3 else fp_v2
        store.record_dataset_version("train", fp, run_id=rid, execution_id=load)
        store.add_edges([("dataset", fp, "read", "execution", str(load))], run_id=rid)
        store.log_params(
            rid,
            {"model_type": MODEL[i], "depth": DEPTH[i], "seed": SEED[i], "lr": 0.1},
            execution_id=fit,
        )
        store.log_metrics(
            rid, [("auc", auc_at(i, s), s, None) for s in range(STEPS)], execution_id=fit
        )
        store.log_metrics(rid, [("loss", loss_of(i), None, None)], execution_id=fit)
        store.end_run(rid)
        ids[f"r{i}"] = rid
    return ids


@pytest.fixture
def runs(store: Any) -> dict[str, str]:
    return populate(store)


def names(cmp: Any) -> list[str]:
    return sorted(cmp.table["run_name"])


# -- the runs table ---------------------------------------------------------------------------


def test_table_has_one_row_per_run_with_params_and_latest_metrics(store, runs) -> None:
    cmp = compare(experiment="churn", store=store)
    table = cmp.table.set_index("run_name")
    assert sorted(table.index) == [f"r{i}" for i in range(6)]
    assert list(cmp.table.columns[:4]) == ["run_id", "run_name", "status", "started_at"]
    assert cmp.params == ["params.depth", "params.lr", "params.model_type", "params.seed"]
    assert cmp.metrics == ["metrics.auc", "metrics.loss"]
    for i in range(6):
        row = table.loc[f"r{i}"]
        assert row["run_id"] == runs[f"r{i}"]
        assert row["status"] == "finished"
        assert row["params.model_type"] == MODEL[i]
        assert row["params.depth"] == DEPTH[i]
        assert row["metrics.auc"] == pytest.approx(auc_at(i, STEPS - 1))  # the latest point
        assert row["metrics.loss"] == pytest.approx(loss_of(i))


def test_default_scope_is_latest_experiment_and_skips_runs_without_data(store, runs) -> None:
    store.create_run("churn", name="empty")  # a run that logged nothing
    assert "empty" not in names(compare(store=store))
    other = store.create_run("older", name="x")
    store.log_params(other["id"], {"a": 1})
    # "older" now holds the newest run, so it is the default experiment
    cmp = compare(store=store)
    assert cmp.experiment == "older" and names(cmp) == ["x"]
    named = compare(runs=[runs["r1"], "r4", "empty"], store=store)
    assert names(named) == ["empty", "r1", "r4"]  # named runs are shown even when empty


def test_unknown_run_or_experiment_is_reported(store, runs) -> None:
    with pytest.raises(RunNotFound, match="No run with id 'nope'"):
        compare(runs=["nope"], store=store)
    with pytest.raises(ExperimentNotFound, match="No experiment named 'chrun'"):
        compare(experiment="chrun", store=store)  # never silently another experiment
    with pytest.raises(InvalidInput, match=r"No metric 'f1' in these runs\. Metrics: auc, loss"):
        compare(experiment="churn", metric="f1", store=store)


@pytest.mark.parametrize(
    ("call", "example"),
    [
        (lambda store, cmp: compare(123, store=store), "mj.compare(['r1', 'r2'])"),
        (lambda store, cmp: compare(metric=5, store=store), "mj.compare(metric='auc')"),
        (lambda store, cmp: cmp.groups(5), ".groups('model_type')"),
        (lambda store, cmp: cmp.groups("seed", metrics=5), "metrics=['auc']"),
        (lambda store, cmp: cmp.at_step("x"), ".at_step(10)"),
        (lambda store, cmp: cmp.curves(5), "['auc', 'loss']"),
        (lambda store, cmp: cmp.diff(5, 6), ".diff('r1', 'r2')"),
        (lambda store, cmp: cmp.filter(5), "metrics.auc > 0.8"),
        (lambda store, cmp: cmp.select(5), ".select(['r1', 'r2'])"),
        (lambda store, cmp: cmp.sort(5), ".sort('metrics.auc'"),
        (lambda store, cmp: cmp.best(5), ".best('auc')"),
    ],
)
def test_wrong_argument_types_say_what_to_pass(store, runs, call, example) -> None:
    cmp = compare(experiment="churn", store=store)
    with pytest.raises(InvalidInput, match=r"must be .*Example: ") as raised:
        call(store, cmp)
    assert example in str(raised.value) and "\n" not in str(raised.value)


def test_select_and_compare_take_one_name_or_any_iterable_of_names(store, runs) -> None:
    cmp = compare(experiment="churn", store=store)
    assert names(cmp.select("r1")) == ["r1"]  # one name, not its characters
    assert names(compare(runs=(n for n in ("r1", "r2")), store=store)) == ["r1", "r2"]
    assert len(cmp.at_step(2)) == 6


def test_metric_sorts_best_first_with_guessed_direction(store, runs) -> None:
    by_auc = compare(experiment="churn", metric="auc", store=store)
    assert by_auc.direction == "max"
    assert list(by_auc.table["run_name"]) == [f"r{i}" for i in range(5, -1, -1)]
    by_loss = compare(experiment="churn", metric="metrics.loss", store=store)
    assert by_loss.direction == "min"
    assert list(by_loss.table["metrics.loss"]) == sorted(loss_of(i) for i in range(6))


def test_sort_by_any_column(store, runs) -> None:
    cmp = compare(experiment="churn", store=store)
    assert list(cmp.sort("params.model_type").table["params.model_type"]) == sorted(MODEL)
    by_depth = cmp.sort("depth", ascending=False).table["params.depth"].tolist()
    assert by_depth == sorted(DEPTH, reverse=True)


# -- filter -----------------------------------------------------------------------------------


def expected(pred) -> list[str]:
    return sorted(f"r{i}" for i in range(6) if pred(i))


def test_filter_with_or_and_parentheses(store, runs) -> None:
    cmp = compare(experiment="churn", store=store)
    query = 'metrics.auc > 0.6 and (params.model_type == "rf" or params.depth >= 5)'
    got = cmp.filter(query)
    want = expected(lambda i: auc_at(i, STEPS - 1) > 0.6 and (MODEL[i] == "rf" or DEPTH[i] >= 5))
    assert names(got) == want and want  # non-empty, so the test can fail
    assert got.queries == (query,)
    assert len(cmp) == 6  # the original is unchanged (frozen results)


@pytest.mark.parametrize(
    ("query", "pred"),
    [
        ("depth in [2, 6]", lambda i: DEPTH[i] in (2, 6)),
        ('params.model_type not in ("gb",)', lambda i: MODEL[i] != "gb"),
        ("not metrics.loss < 0.7", lambda i: not loss_of(i) < 0.7),
        ("0.6 < auc <= 0.7", lambda i: 0.6 < auc_at(i, STEPS - 1) <= 0.7),
        ('model_type == "gb" AND seed == 1', lambda i: MODEL[i] == "gb" and SEED[i] == 1),
        ('params["model_type"] != "rf"', lambda i: MODEL[i] != "rf"),
        ("run_name == 'r3' or status != 'finished'", lambda i: i == 3),
        ("params.depth == '4'", lambda i: DEPTH[i] == 4),
        ("metrics.loss is None", lambda i: False),
        ("metrics.loss is not None and depth > -1", lambda i: True),
    ],
)
def test_filter_language(store, runs, query, pred) -> None:
    assert names(compare(experiment="churn", store=store).filter(query)) == expected(pred)


def test_filter_missing_values_match_nothing(store, runs) -> None:
    extra = store.create_run("churn", name="nometric")
    store.log_params(extra["id"], {"depth": 9, "note": "x"})
    cmp = compare(experiment="churn", store=store)
    assert "nometric" not in names(cmp.filter("metrics.auc > 0"))
    assert "nometric" not in names(cmp.filter("metrics.auc <= 1"))
    assert names(cmp.filter('params.note == "x"')) == ["nometric"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("metrics.f1 > 0.5", "No column 'metrics.f1' in the runs table. Columns: run_id"),
        ("auc >", "Cannot parse the filter"),
        ("params.depth = 4", "Use == for equality"),
        ("__import__('os').system('touch pwned')", "Cannot use function calls"),
        ("metrics.auc + 1 > 2", "Cannot use arithmetic"),
        ("params.depth.__class__ == 1", "No column 'params.depth.__class__'"),
        ("[x for x in ()]", "Cannot use the expression"),
        ("", "The filter is empty"),
    ],
)
def test_filter_errors_say_what_exists(store, runs, workdir, query, message) -> None:
    cmp = compare(experiment="churn", store=store)
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace("[", r"\[")):
        cmp.filter(query)
    assert not (workdir / "pwned").exists()


def test_parse_query_resolves_columns_without_data() -> None:
    columns = ["run_name", "params.depth", "metrics.depth", "metrics.auc"]
    assert parse_query("auc > 1 or run_name == 'a'", columns).columns == (
        "metrics.auc",
        "run_name",
    )
    with pytest.raises(InvalidInput, match="both a param and a metric"):
        parse_query("depth > 1", columns)


# -- answers ----------------------------------------------------------------------------------


def test_best_by_metric_and_direction(store, runs) -> None:
    cmp = compare(experiment="churn", store=store)
    assert cmp.best("auc")["run_name"] == "r5"
    assert cmp.best("auc", direction="min")["run_name"] == "r0"
    assert cmp.best("loss")["run_name"] == "r5"  # guessed 'min' for a loss
    assert cmp.best("loss", "max")["run_id"] == runs["r0"]
    with pytest.raises(InvalidInput, match="No metric to rank by"):
        cmp.best()
    with pytest.raises(InvalidInput, match="Unknown direction"):
        cmp.best("auc", "up")


def test_groups_mean_and_std_per_param_value(store, runs) -> None:
    cmp = compare(experiment="churn", metric="auc", store=store)
    groups = cmp.groups("model_type", ["auc", "loss"]).set_index("params.model_type")
    for model in ("rf", "gb"):
        members = [i for i in range(6) if MODEL[i] == model]
        aucs = [auc_at(i, STEPS - 1) for i in members]
        assert groups.loc[model, "runs"] == len(members)
        assert groups.loc[model, "auc mean"] == pytest.approx(statistics.mean(aucs))
        assert groups.loc[model, "auc std"] == pytest.approx(statistics.stdev(aucs))
        losses = [loss_of(i) for i in members]
        assert groups.loc[model, "loss mean"] == pytest.approx(statistics.mean(losses))
    assert list(groups.index) == ["gb", "rf"]  # best mean auc first
    by_two = cmp.groups(["model_type", "seed"], "auc")
    assert by_two["runs"].sum() == 6 and len(by_two) == 4
    with pytest.raises(InvalidInput, match="No param 'colour'"):
        cmp.groups("colour")


def test_curves_and_metrics_at_a_step(store, runs) -> None:
    cmp = compare(experiment="churn", store=store)
    curves = cmp.curves("auc")
    assert list(curves.columns) == ["run_id", "run_name", "metric", "step", "value"]
    assert len(curves) == 6 * STEPS
    r2 = curves[curves["run_name"] == "r2"]
    assert r2["step"].tolist() == list(range(STEPS))
    assert r2["value"].tolist() == pytest.approx([auc_at(2, s) for s in range(STEPS)])
    at1 = cmp.at_step(1).set_index("run_name")
    for i in range(6):
        assert at1.loc[f"r{i}", "metrics.auc"] == pytest.approx(auc_at(i, 1))
        # loss was logged without a step: position 0, so it is there at step 1 too
        assert at1.loc[f"r{i}", "metrics.loss"] == pytest.approx(loss_of(i))
    at_big = cmp.at_step(100).set_index("run_name")
    assert at_big.loc["r3", "metrics.auc"] == pytest.approx(auc_at(3, STEPS - 1))


def test_only_differences_hides_params_equal_across_runs(store, runs) -> None:
    cmp = compare(experiment="churn", store=store)
    assert constant_params(cmp.runs) == ["params.lr"]
    shown = cmp.only_differences().table.columns
    assert "params.lr" not in shown and "params.depth" in shown
    rf = cmp.filter('model_type == "rf" and seed == 0').only_differences()
    assert [c for c in rf.table.columns if c.startswith("params.")] == ["params.depth"]
    assert "params.lr" in rf.runs.columns  # hidden from the table, still filterable
    assert len(rf.filter("lr == 0.1")) == 2


def test_select_keeps_named_runs(store, runs) -> None:
    cmp = compare(experiment="churn", store=store)
    assert names(cmp.select(["r1", runs["r4"], runs["r5"][:6]])) == ["r1", "r4", "r5"]
    with pytest.raises(InvalidInput, match="No run 'zz' in this comparison"):
        cmp.select(["zz"])


def test_register_column_adds_a_column_and_survives_a_failing_provider(store, runs) -> None:
    from mlops_jupyter.analysis import compare as module

    register_column("reproduced", lambda st, ids: {ids[0]: "yes"})
    register_column("broken", lambda st, ids: 1 / 0)
    try:
        with pytest.warns(UserWarning, match="column 'broken' skipped"):
            cmp = compare(experiment="churn", store=store)
    finally:
        module._COLUMN_PROVIDERS.pop("reproduced")
        module._COLUMN_PROVIDERS.pop("broken")
    shown = [c for c in cmp.table.columns if not c.startswith("resources.")]  # #16's columns
    assert shown[:6] == [*module.RUN_COLUMNS, "reproducibility", "reproduced"]
    assert cmp.table["reproduced"].tolist().count("yes") == 1
    first = cmp.runs["run_id"].astype(str).tolist().index(cmp.run_ids[0])
    assert cmp.runs["reproduced"].iloc[first] == "yes"  # on the run the provider named
    assert cmp.runs["reproduced"].isna().sum() == len(cmp) - 1
    assert "broken" not in cmp.table.columns


def test_children_know_their_parent_and_the_default_diff_pairs_them(store, runs) -> None:
    parent = runs["r0"]
    kids = store.create_child_runs(parent, ["k0", "k1"])
    for kid, auc in zip(kids, (0.97, 0.99)):
        store.log_metrics(kid, [("auc", auc, None, None)])
    cmp = compare(experiment="churn", metric="auc", store=store)
    assert cmp.parents == {kid: parent for kid in kids}  # runs without a parent: absent
    assert cmp.default_pair() == (parent, kids[1])  # the best run against its parent


# -- diff of two runs -------------------------------------------------------------------------


def test_diff_of_two_runs(store, runs) -> None:
    cmp = compare(experiment="churn", store=store)
    d = cmp.diff("r1", "r4")
    assert (d.run_a["id"], d.run_b["id"]) == (runs["r1"], runs["r4"])
    params = d.params.set_index("param")
    assert sorted(params.index) == ["model_type", "seed"]  # same depth 4, same lr
    assert (params.loc["model_type", "a"], params.loc["model_type", "b"]) == ("rf", "gb")
    assert (params.loc["seed", "a"], params.loc["seed", "b"]) == (SEED[1], SEED[4])
    metrics = d.metrics.set_index("metric")
    assert metrics.loc["auc", "delta"] == pytest.approx(auc_at(4, 3) - auc_at(1, 3))
    assert metrics.loc["loss", "b"] == pytest.approx(loss_of(4))
    fit_a = next(x for x in store.list_executions(runs["r1"]) if x["execution_count"] == 2)
    assert metrics.loc["auc", "a_execution_id"] == fit_a["id"]
    assert metrics.loc["auc", "a_cell"] == "In [2]" and metrics.loc["auc", "b_step"] == 3
    assert d.cells["change"].tolist() == ["changed"]  # same depth, other model -> other hash
    assert d.datasets["dataset"].tolist() == ["train"]
    assert d.datasets.loc[0, "a_versions"] == "v1" and d.datasets.loc[0, "b_versions"] == "v2"
    packages = d.packages.set_index("package")
    assert sorted(packages.index) == ["numpy", "xgboost"]
    assert packages.loc["numpy", "a"] == "2.0.0" and packages.loc["xgboost", "a"] is None


def test_diff_shows_code_line_changes(store, runs) -> None:
    d = compare(experiment="churn", store=store).diff(runs["r0"], runs["r2"])
    assert d.params.set_index("param").loc["depth"].tolist() == [2, 6]
    assert len(d.cells) == 1
    text = d.cells.loc[0, "diff"]
    assert "-model = Forest(depth=2)" in text and "+model = Forest(depth=6)" in text
    assert " model.fit(train)" in text
    assert d.datasets.empty and d.packages.empty  # same data, same environment
    same = compare(experiment="churn", store=store).diff("r3", "r3")
    assert same.identical


def test_diff_aligns_cells_by_cell_id(store) -> None:
    a = store.create_run("ids", name="a")["id"]
    b = store.create_run("ids", name="b")["id"]
    for run, extra in ((a, ""), (b, "y = 2\n")):
        for cid, code in (("c1", "x = 1"), ("c2", extra + "print(x)")):
            store.add_execution(
                run,
                code=code,
                code_hash=str(hash(code)),
                started_at="t",
                duration_s=0,
                status="ok",
                cell_id=cid,
                execution_count=1,
            )
    store.add_execution(
        b, code="z = 3", code_hash="z", started_at="t", duration_s=0, status="ok", cell_id="c3"
    )
    cells = compare(runs=[a, b], store=store).diff(a, b).cells.set_index("cell")
    assert cells.loc["c2", "change"] == "changed" and "+y = 2" in cells.loc["c2", "diff"]
    assert cells.loc["c3", "change"] == "only in b"
    assert "c1" not in cells.index


# -- HTML -------------------------------------------------------------------------------------


class _Tags(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.append(tag)
        self.attrs.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(markup: str) -> _Tags:
    parser = _Tags()
    parser.feed(markup)
    return parser


EVIL = "<script>alert(1)</script>"


def test_html_escapes_user_data(store, runs) -> None:
    run = store.create_run("churn", name=EVIL)["id"]
    store.log_params(run, {EVIL: EVIL, "model_type": '"><img src=x onerror=alert(1)>'})
    store.log_metrics(run, [(EVIL, 1.0, 0, None), ("auc", 0.1, 0, None)])
    store.add_execution(run, code=EVIL, code_hash="evil", started_at="t", duration_s=0, status="ok")
    cmp = compare(experiment="churn", metric="auc", store=store)
    for markup in (cmp.to_html(), cmp._repr_html_(), cmp.diff(runs["r0"], run).to_html()):
        parsed = parse(markup)
        assert "script" not in parsed.tags
        assert not [name for _, attrs in parsed.attrs for name, _ in attrs if name.startswith("on")]
        for tag, attrs in parsed.attrs:
            if tag == "img":  # only our own inline plots
                assert dict(attrs)["src"].startswith("data:image/png;base64,")
        assert EVIL in "".join(parsed.text)  # shown as text


def test_html_has_table_best_run_and_every_tab(store, runs) -> None:
    import re

    cmp = compare(experiment="churn", metric="auc", store=store)
    markup = cmp.to_html()
    parsed = parse(markup)
    text = "".join(parsed.text)
    assert "Comparison of 6 runs in experiment churn" in text
    assert "best by auc (max): r5" in " ".join(text.split())
    runs_table = re.search(r'<table class="mlops-table mlops-runs">.*?</table>', markup, re.S)
    assert runs_table and runs_table.group(0).count("<tr>") == 8  # two header rows + six runs
    summaries = re.findall(r"<summary>(.*?)</summary>", markup)
    assert summaries[:7] == ["Best", "Curves", "Scatter", "Parallel", "Groups", "At step", "Diff"]
    assert markup.count("<img") == 3  # curves, scatter, parallel: inline
    assert "iframe" not in parsed.tags and "http" not in markup.replace("http://www.w3", "")
    filtered = cmp.filter("depth > 3").only_differences().to_html()
    assert "filter: (depth &gt; 3)" in filtered
    assert "params hidden (equal across these runs): lr" in filtered


def test_diff_html_links_metrics_to_cells(store, runs) -> None:
    markup = compare(experiment="churn", store=store).diff("r0", "r5").to_html()
    parsed = parse(markup)
    assert "Cells whose code differs (1)" in "".join(parsed.text)
    import re

    targets = set(re.findall(r'href="#([^"]+)"', markup))
    anchors = set(re.findall(r'<a id="([^"]+)"', markup))
    assert targets and targets <= anchors
    # the same cell code in both runs: the metrics still link to the code that logged them
    same = compare(experiment="churn", store=store).diff("r0", "r0")
    assert same.cells.empty and len(same.producers) == 1  # one cell, listed once
    assert "model.fit(train)" in same.producers.loc[0, "code"]
    markup = same.to_html()
    targets = set(re.findall(r'href="#([^"]+)"', markup))
    assert targets and targets <= set(re.findall(r'<a id="([^"]+)"', markup))
    assert "Cells that logged the metrics" in markup and "model.fit(train)" in markup


# -- the summaries behind the fast runs table ---------------------------------------------------


def _same_tables(store: Any, experiment: str) -> None:
    """compare_frame (summaries) holds the same values as runs_frame (row by row)."""
    import math

    import pandas as pd

    fast = store.compare_frame(experiment).set_index("run_id").sort_index()
    exact = store.runs_frame(experiment).set_index("run_id").sort_index()
    assert sorted(fast.columns) == sorted(exact.columns)
    for column in exact.columns:
        for run in exact.index:
            a, b = fast.loc[run, column], exact.loc[run, column]
            missing_a = a is None or a is pd.NA or (isinstance(a, float) and math.isnan(a))
            missing_b = b is None or b is pd.NA or (isinstance(b, float) and math.isnan(b))
            assert missing_a == missing_b, (column, run, a, b)
            if not missing_a:
                assert a == b or str(a) == str(b), (column, run, a, b)


def test_fast_table_matches_the_exact_query_through_updates(store, store_file) -> None:
    from mlops_jupyter.store import open_store

    ids = populate(store)
    _same_tables(store, "churn")
    r0, r3 = ids["r0"], ids["r3"]
    store.log_params(r0, {"depth": 99, "lr": 0.1 + 0.2, "flag": True, "note": None})
    store.log_metrics(r0, [("auc", 0.123456789012345678, 10, None), ("new", float("inf"), 0, None)])
    store.log_metrics(r3, [("auc", None, 11, None)])
    _same_tables(store, "churn")
    fast = store.compare_frame("churn").set_index("run_name")
    assert fast.loc["r0", "params.depth"] == 99
    assert fast.loc["r0", "params.lr"] == 0.1 + 0.2  # exact, not rounded to 15 digits
    assert fast.loc["r0", "metrics.auc"] == 0.123456789012345678
    assert math.isinf(fast.loc["r0", "metrics.new"])
    other = open_store(store_file, shared=False)  # another connection, as another kernel
    try:
        other.log_metrics(ids["r5"], [("auc", 0.99, 20, None)])
    finally:
        other.close()
    assert store.compare_frame("churn").set_index("run_name").loc["r5", "metrics.auc"] == 0.99
    with store.write():  # deleting the latest point brings the previous one back
        store.conn.execute(
            "DELETE FROM metrics WHERE id = (SELECT MAX(id) FROM metrics WHERE run_id = ?)",
            (ids["r5"],),
        )
    assert store.compare_frame("churn").set_index("run_name").loc["r5", "metrics.auc"] == (
        pytest.approx(auc_at(5, STEPS - 1))
    )
    store.log_metrics(ids["r5"], [("auc", 0.5, 21, None)])  # may reuse the deleted id
    _same_tables(store, "churn")
    assert store.refresh_summaries() == 0  # nothing new: nothing rewritten


def test_writes_keep_the_summaries_current_and_reads_fold_what_others_left(store) -> None:
    """Each param and metric write folds itself into the summaries in its own transaction, so
    the first read has nothing to do; points inserted behind its back (an older writer) are
    folded on read, in id order, and the next write does not skip them."""
    populate(store)
    store.compare_frame("churn")
    run = store.create_run("churn", name="w")["id"]
    store.log_params(run, {"depth": 3, "C": 0.5})
    store.log_metrics(run, [("auc", 0.5, 0, None), ("auc", 0.6, 1, None)])
    store.log_params_many([(run, "gamma", "scale", "default")])
    store.log_metrics_many([(run, "loss", 0.25, None)])
    store.log_params(run, {"depth": 4})
    assert store.refresh_summaries() == 0  # the writes kept them current
    _same_tables(store, "churn")
    with store.write():  # an older writer: a raw point the summaries did not see
        store.conn.execute(
            "INSERT INTO metrics (run_id, key, step, value, logged_at) VALUES (?, 'auc', 2, 0.7,"
            " '2026-01-01T00:00:00')",
            (run,),
        )
    store.log_metrics(run, [("auc", 0.8, 3, None)])  # must not move the watermark past 0.7
    store.log_metrics(run, [("f1", 0.1, 0, None)])
    assert store.refresh_summaries() == 1
    _same_tables(store, "churn")
    row = store.compare_frame("churn").set_index("run_name").loc["w"]
    assert (row["metrics.auc"], row["params.depth"], row["metrics.f1"]) == (0.8, 4, 0.1)
    assert store.default_params([run]) == {run: {"gamma"}}


def test_the_kept_runs_table_equals_a_fresh_read_through_every_kind_of_change(
    store, store_file
) -> None:
    """compare_frame keeps the last table and re-reads only runs whose summary moved; after
    each change it must equal the table a new connection (nothing kept) reads."""
    from pandas.testing import assert_frame_equal

    from mlops_jupyter.store import open_store

    def check() -> None:
        fresh_store = open_store(store_file, shared=False)
        try:
            for experiment in ("churn", None):
                kept = store.compare_frame(experiment).sort_values("run_id", ignore_index=True)
                fresh = fresh_store.compare_frame(experiment)
                fresh = fresh.sort_values("run_id", ignore_index=True)
                assert_frame_equal(kept, fresh)
        finally:
            fresh_store.close()

    ids = populate(store)
    for r in ids.values():  # columns of every dtype, which the new runs below lack
        store.log_params(r, {"flag": True, "mixed": 1 if r == ids["r0"] else "a", "rate": 0.5})
    check()
    run = store.create_run("churn", name="late")["id"]  # a new run, no params yet
    check()
    store.log_params(run, {"depth": 7, "kernel": "rbf"})  # depth now missing in no run...
    store.log_metrics(run, [("auc", 0.5, 0, None), ("brand_new", 1.0, 0, None)])
    check()
    bare = store.create_run("churn", name="bare")["id"]  # ...and missing in one: Int64
    store.log_params(bare, {"note": "x"})
    check()
    store.end_run(run)
    store.log_params(ids["r1"], {"depth": "deep"})  # an int column turns to text
    check()
    other = open_store(store_file, shared=False)  # another kernel writes
    try:
        other.log_metrics(ids["r2"], [("auc", 0.01, 99, None)])
        other.create_run("other-exp", name="elsewhere")
    finally:
        other.close()
    check()
    with store.write():  # a run moved to another experiment: start afresh
        store.conn.execute(
            "UPDATE runs SET experiment_id = (SELECT id FROM experiments WHERE name = 'other-exp')"
            " WHERE id = ?",
            (ids["r3"],),
        )
    check()
    assert ids["r3"] not in set(store.compare_frame("churn")["run_id"])
    with store.write():  # a deleted run, a renamed experiment: start afresh
        store.conn.execute("DELETE FROM params WHERE run_id = ?", (bare,))
        store.conn.execute("DELETE FROM runs WHERE id = ?", (bare,))
    check()
    assert bare not in set(store.compare_frame("churn")["run_id"])
    frame = store.compare_frame("churn").set_index("run_name")
    assert frame.loc["r2", "metrics.auc"] == 0.01 and frame.loc["late", "status"] == "finished"


def test_a_new_process_decodes_the_stored_table_and_reads_only_runs_changed_since(
    store, store_file, monkeypatch
) -> None:
    """#18: a runs table of enough runs is kept in the store (``compare_frames``); another
    store object (a new kernel) decodes it and re-reads only the runs whose summary moved, and
    gets exactly the table a read of every run gives, through changes, deletes and moves."""
    from pandas.testing import assert_frame_equal

    from mlops_jupyter.store import compare as compare_mod
    from mlops_jupyter.store import open_store

    monkeypatch.setattr(compare_mod, "COPY_MIN_RUNS", 5)  # populate makes six runs
    read: list[int] = []
    real = compare_mod.frame_from_rows

    def counting(rows: list[Any]) -> Any:
        read.append(len(rows))
        return real(rows)

    monkeypatch.setattr(compare_mod, "frame_from_rows", counting)

    def new_kernel() -> tuple[Any, list[int]]:
        """The table as a new process reads it, the rows it read, and a read of every run."""
        read.clear()
        other, plain = open_store(store_file, shared=False), open_store(store_file, shared=False)
        try:
            table = other.compare_frame("churn")
            rows = list(read)
            other.wait_for_frame_copy()
            plain.__dict__["_stored_frame"] = lambda key: None  # nothing kept: every run...
            plain.__dict__["_save_frame"] = lambda *args: None  # ...and nothing left behind
            full = plain.compare_frame("churn")
        finally:
            other.close()
            plain.close()
        assert_frame_equal(table, full)
        return table, rows

    ids = populate(store)
    store.log_params(ids["r0"], {"mixed": 1, "flag": True})
    store.log_params(ids["r1"], {"mixed": "a"})
    store.compare_frame("churn")  # six runs read: a copy is kept
    store.wait_for_frame_copy()
    table, rows = new_kernel()
    assert rows == [] and len(table) == 6  # decoded: no run read
    store.log_metrics(ids["r2"], [("auc", 0.01, 99, None)])
    table, rows = new_kernel()
    assert rows == [1] and table.set_index("run_name").loc["r2", "metrics.auc"] == 0.01
    late = store.create_run("churn", name="late")["id"]
    store.log_params(late, {"depth": 9, "kernel": "rbf"})  # a new column, depth turns Int64
    table, rows = new_kernel()
    # the copy is still the first one (too few re-read runs to write another): r2 and late
    assert rows == [2] and table["params.kernel"].notna().sum() == 1
    with store.write():  # a deleted run: the kept copy is no use, every run is read
        store.conn.execute("DELETE FROM params WHERE run_id = ?", (late,))
        store.conn.execute("DELETE FROM runs WHERE id = ?", (late,))
    table, rows = new_kernel()
    assert rows == [6] and late not in set(table["run_id"])
    for i in range(6):  # ... and that read was kept: these six are all a new kernel reads
        store.create_run("churn", name=f"more-{i}")
    table, rows = new_kernel()
    assert rows == [6] and len(table) == 12
    table, rows = new_kernel()  # the previous new kernel kept its table: nothing to read
    assert rows == [] and len(table) == 12


def test_the_kept_runs_table_equals_a_fresh_read_through_random_writes(store, store_file) -> None:
    """200 random writes (runs, children sharing a start time, params changing type, metrics,
    ends); every 10 the kept table must equal a new connection's, in order and dtype."""
    import random

    from pandas.testing import assert_frame_equal

    from mlops_jupyter.store import open_store

    rng = random.Random(7)
    runs = [store.create_run("rand", name="first")["id"]]
    values = ["a", 0.74, 3, True, None, 12, "b"]
    for step in range(200):
        action = rng.random()
        run = rng.choice(runs)
        if action < 0.15:
            runs.append(store.create_run("rand")["id"])
        elif action < 0.2:
            runs += store.create_child_runs(runs[0], [f"c{step}a", f"c{step}b"])
        elif action < 0.55:
            store.log_params(run, {rng.choice("pqrs"): rng.choice(values)})
        elif action < 0.9:
            store.log_metrics(run, [(rng.choice("mn"), rng.random(), step, None)])
        else:
            store.end_run(run)
        if step % 10 == 9:
            other = open_store(store_file, shared=False)
            try:
                for experiment in ("rand", None):
                    assert_frame_equal(
                        store.compare_frame(experiment), other.compare_frame(experiment)
                    )
            finally:
                other.close()


@pytest.mark.parametrize("many", [0, 10_000])
def test_a_kept_table_reads_the_changed_runs_alike_by_id_or_by_version(
    store, store_file, monkeypatch, many
) -> None:
    """A kept table re-reads the runs changed since: a few by id (the experiment's filtered in
    Python), many through the version index; either way it equals a new connection's, while
    another experiment changes too."""
    from pandas.testing import assert_frame_equal

    from mlops_jupyter.store import compare as module
    from mlops_jupyter.store import open_store

    monkeypatch.setattr(module, "MANY_RUNS", many)
    ours = [store.create_run("ours", name=f"o{i}")["id"] for i in range(3)]
    theirs = store.create_run("theirs", name="t0")["id"]
    for experiment in ("ours", "theirs", None):
        store.compare_frame(experiment)  # kept from now on
    for step, run in enumerate([*ours, theirs, ours[0]]):
        store.log_params(run, {"depth": step, "model": "rf" if step % 2 else "gb"})
        store.log_metrics(run, [("auc", 0.5 + step / 10, None, None)])
        if step == 2:
            ours.append(store.create_run("ours", name="late")["id"])
            store.end_run(ours[1])
        other = open_store(store_file, shared=False)
        try:
            for experiment in ("ours", "theirs", None):
                assert_frame_equal(store.compare_frame(experiment), other.compare_frame(experiment))
        finally:
            other.close()
    assert set(store.compare_frame("ours")["run_id"]) == set(ours)


def test_stepped_metrics_and_last_step_agree_with_the_curves(store) -> None:
    """The panel's defaults come from one aggregate query; they match what the curves show."""
    a = store.create_run("steps", name="a")["id"]
    b = store.create_run("steps", name="b")["id"]
    store.log_metrics(a, [("loss", v, None, None) for v in (0.9, 0.5, 0.4)])  # steps 0, 1, 2
    store.log_metrics(b, [("auc", v, s, None) for v, s in ((0.6, 0), (0.7, 5), (0.8, 10))])
    store.log_metrics(b, [("loss", 0.3, None, None), ("f1", 0.5, None, None)])
    store.log_metrics(a, [("f1", 0.4, None, None)])
    cmp = compare(experiment="steps", store=store)
    assert cmp.stepped_metrics() == ["metrics.auc", "metrics.loss"]  # f1: one point per run
    curves = cmp.curves()
    for metric in ("auc", "loss", "f1"):
        assert cmp.last_step(metric) == curves[curves["metric"] == metric]["step"].max()
    assert cmp.last_step() == 10


def test_integer_params_stay_integers_when_some_runs_lack_them(store, runs) -> None:
    extra = store.create_run("churn", name="nodepth")
    store.log_params(extra["id"], {"model_type": "svm", "shrinking": True})
    cmp = compare(experiment="churn", store=store)
    assert str(cmp.table["params.depth"].dtype) == "Int64"
    assert names(cmp.filter("depth >= 4")) == expected(lambda i: DEPTH[i] >= 4)
    assert "nodepth" in names(cmp.filter("depth is None"))
    assert "nodepth" in names(cmp.filter("depth != 4"))
    for query in ("shrinking", "shrinking == True", "params.shrinking == 'True'"):
        assert names(cmp.filter(query)) == ["nodepth"], query
    assert "<td>4</td>" in cmp.to_html() and "<td>4.0</td>" not in cmp.to_html()
    groups = cmp.groups("depth", "auc").set_index("params.depth")
    assert groups.loc[4, "runs"] == DEPTH.count(4) and groups["runs"].sum() == 7


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_arrow_read_of_many_summaries_equals_the_json_read_value_for_value(seed) -> None:
    """From 1,000 runs the summaries are parsed by Arrow (#18): the table must be the one the
    per-run JSON path builds, in values and dtypes, whatever the params hold (ints with gaps,
    ints and floats mixed, NaN and infinities, bools with gaps, ISO dates as text, nested
    values, huge integers, keys only a few runs have); a column Arrow cannot read as the JSON
    path does falls back to that path."""
    import json as _json
    import random

    from pandas.testing import assert_frame_equal

    from mlops_jupyter.store import summary_frame as sf
    from mlops_jupyter.store.compare import _dump

    rng = random.Random(seed)
    kinds = {
        "int": lambda: rng.randint(-5, 500),
        "float": lambda: rng.choice([0.1 + 0.2, 1e-300, -2.5, float("nan"), float("inf")]),
        "mixed": lambda: rng.choice([1, 2.5, 3]),
        "text": lambda: rng.choice(["rf", "gb", "", "é ü"]),
        "date": lambda: rng.choice(["2024-01-01", "2024-02-03T10:00:00"]),
        "bool": lambda: rng.random() < 0.5,
        "nested": lambda: rng.choice([[1, 2], {"a": 1}, [1, "x"]]),
        "huge": lambda: rng.choice([1, 2**64]),
        "flip": lambda: rng.choice([1, "one"]),
    }
    chosen = rng.sample(sorted(kinds), 5)
    rows = []
    for i in range(1_200):
        params = {}
        for key in chosen:
            if rng.random() < (0.97 if key != "bool" else 0.8):
                params[key] = kinds[key]()
        if rng.random() < 0.01:
            params["rare"] = rng.choice([7, 8])
        metrics = {
            m: rng.choice([rng.random(), float("nan"), 1.0]) for m in "ab" if rng.random() < 0.9
        }
        run = [f"r{i:05d}", "exp", f"run-{i}", "finished", f"2024-01-01T00:{i:05d}"]
        run += [None] * (len(sf.RUN_FIELDS) - len(run))
        rows.append((*run, _dump(params) if params or rng.random() < 0.5 else None, _dump(metrics)))
    fast = sf.frame_from_rows(rows)
    original = sf.ARROW_MIN_RUNS
    try:
        sf.ARROW_MIN_RUNS = 10**9  # every read through json.loads
        slow = sf.frame_from_rows(rows)
    finally:
        sf.ARROW_MIN_RUNS = original
    assert_frame_equal(fast, slow, check_exact=True)
    assert _json.loads(rows[0][len(sf.RUN_FIELDS)] or "{}").keys() <= {
        c.removeprefix("params.") for c in fast.columns
    }


def test_arrow_read_is_taken_for_plain_summaries() -> None:
    """The fast path is not silently the JSON one: plain params and metrics go through Arrow."""
    from mlops_jupyter.store import summary_frame as sf

    texts = [f'{{"depth":{i},"model":"rf","lr":0.1,"flag":true}}' for i in range(1_500)]
    columns = sf._arrow_columns(texts, "params.")
    assert columns is not None and sorted(columns) == ["depth", "flag", "lr", "model"]
    assert list(columns["depth"][:3]) == [0, 1, 2]


SCRIPT_LOGGING_RUNS = """
import sys
from mlops_jupyter.store import compare, open_store
compare.COPY_MIN_RUNS = 100  # (1,000 in use: a tenth, to keep the test quick)
store = open_store(sys.argv[1], shared=False)
for i in range(int(sys.argv[2])):  # a script logs runs and never reads them
    run = store.create_run("sweep", name=f"s{i}")["id"]
    store.log_params(run, {"depth": i % 7, "model": ("rf", "gb")[i % 2]})
    store.log_metrics(run, [("auc", i / 2000, 0, None)])
if sys.argv[3] == "close":
    store.close()
"""


def test_a_script_that_logged_many_runs_leaves_their_table_for_the_next_process(
    store, store_file, workdir, monkeypatch
) -> None:
    """#18: a process that changed 1,000 runs or more (100 here) stores their runs table at
    exit or close, so the next process's first read decodes it instead of reading every run;
    fewer runs, no copy."""
    import subprocess
    import sys

    from pandas.testing import assert_frame_equal

    from mlops_jupyter.store import compare as compare_mod
    from mlops_jupyter.store import open_store

    def script(n: int, end: str = "exit") -> None:
        subprocess.run(
            [sys.executable, "-c", SCRIPT_LOGGING_RUNS, str(store_file), str(n), end],
            check=True, cwd=workdir, timeout=300,
        )  # fmt: skip

    def copies() -> dict[str, int]:
        rows = store.query("SELECT key, version FROM compare_frames")
        return {str(r["key"]): int(r["version"]) for r in rows}

    script(50)
    assert copies() == {}  # 50 runs: a first read of them is quick, nothing kept
    script(110)
    assert set(copies()) == {"experiment:sweep"}
    first = copies()["experiment:sweep"]
    script(100, "close")  # the same when the script closes its store itself
    script(5)
    assert copies()["experiment:sweep"] > first
    read: list[int] = []
    real = compare_mod.frame_from_rows
    monkeypatch.setattr(
        compare_mod, "frame_from_rows", lambda rows: read.append(len(rows)) or real(rows)
    )
    other = open_store(store_file, shared=False)
    try:
        table = other.compare_frame("sweep")
    finally:
        other.close()
    assert len(table) == 265 and sum(read) <= 5  # decoded: the last 5 runs read
    plain = open_store(store_file, shared=False)
    try:
        plain.__dict__["_stored_frame"] = lambda key: None
        plain.__dict__["_save_frame"] = lambda *args: None
        assert_frame_equal(table, plain.compare_frame("sweep"))
    finally:
        plain.close()


def test_default_params_and_verdicts_of_a_big_table_are_those_of_each_run(
    store, monkeypatch
) -> None:
    """#18: past MANY_RUNS ids, default params and verify verdicts are read from the rows that
    have any (indexed) instead of joining every id; the answers must be the per-id ones."""
    from mlops_jupyter.store import compare as compare_mod

    ids = [store.create_run("big", name=f"r{i}")["id"] for i in range(40)]
    for i, run in enumerate(ids):
        if i % 3 == 0:
            store.log_params(run, {"alpha": 1.0, "max_iter": 100}, source="default")
        store.log_params(run, {"depth": i}, source="auto")
        if i % 4 == 0:
            store.record_verification(run, reproduced=i % 8 == 0, summary="", details=[])
    other = store.create_run("elsewhere", name="x")["id"]  # has defaults, is not asked for
    store.log_params(other, {"alpha": 2.0}, source="default")
    store.record_verification(other, reproduced=True, summary="", details=[])
    asked = ids[:35]
    small = store.default_params(asked), store.latest_verdicts(asked)
    monkeypatch.setattr(compare_mod, "MANY_RUNS", 10)
    from mlops_jupyter.store import export as export_mod

    monkeypatch.setattr(export_mod, "MANY_RUNS", 10)
    big = store.default_params(asked), store.latest_verdicts(asked)
    assert big == small
    assert big[0] == {r: {"alpha", "max_iter"} for i, r in enumerate(asked) if i % 3 == 0}
    assert big[1] == {r: i % 8 == 0 for i, r in enumerate(asked) if i % 4 == 0}
