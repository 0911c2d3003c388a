"""The comparison panel driven from Python, %mlops compare in a real shell, the CLI."""

from __future__ import annotations

import re
from typing import Any

import pytest
from click.testing import CliRunner

from mlops_jupyter.analysis.compare import compare, constant_params
from mlops_jupyter.display.compare import ComparePanel

try:  # tests/ as a package or as a plain folder on sys.path
    from .test_compare import DEPTH, auc_at, parse, populate
except ImportError:
    from test_compare import DEPTH, auc_at, parse, populate  # type: ignore[no-redef]


def run(shell: Any, code: str, *, check: bool = True) -> Any:
    """Run one cell like a notebook would (as conftest.run does)."""
    result = shell.run_cell(code, store_history=True)
    if check and not result.success:
        raise AssertionError(f"cell failed: {result.error_in_exec or result.error_before_exec}")
    return result


@pytest.fixture
def runs(store: Any) -> dict[str, str]:
    return populate(store)


@pytest.fixture
def panel(store: Any, runs: dict[str, str]) -> ComparePanel:
    return compare(experiment="churn", metric="auc", store=store).panel()


def shown_rows(panel: ComparePanel) -> list[list[str]]:
    """The table the user sees, as text cells per row (the run name first)."""
    body = re.search(r"<tbody>(.*?)</tbody>", panel.table_html.value, re.S)
    rows = re.findall(r"<tr>(.*?)</tr>", body.group(1)) if body else []
    return [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in rows]


def header(panel: ComparePanel) -> list[str]:
    """Full column names of the shown table, in order (the run name column is "run")."""
    head = re.search(r"<thead>.*?</tr><tr>(.*?)</tr></thead>", panel.table_html.value, re.S)
    assert head, panel.table_html.value
    return [t or "run" for t in re.findall(r'<th(?: title="([^"]*)")?[^>]*>', head.group(1))]


def show_tab(panel: ComparePanel, name: str) -> str:
    panel.tabs.selected_index = panel.TABS.index(name)
    return panel.outputs[name].value


def test_panel_opens_readable_name_metrics_then_params(panel, runs) -> None:
    assert [r[0] for r in shown_rows(panel)] == ["r5", "r4", "r3", "r2", "r1", "r0"]
    cols = header(panel)
    assert cols[0] == "run"
    metrics = [i for i, c in enumerate(cols) if c.startswith("metrics.")]
    params = [i for i, c in enumerate(cols) if c.startswith("params.")]
    assert metrics and params and max(metrics) < min(params)  # metrics first
    # more than one run: only differences is on, so lr (0.1 everywhere) is hidden
    assert panel.only_diff.value and "params.lr" not in cols
    assert "1 params hidden (equal across these runs): lr" in panel.note.value
    panel.only_diff.value = False
    assert "params.lr" in header(panel)
    # the best auc (r5, first row) is highlighted in the live table too
    auc = header(panel).index("metrics.auc")
    first = re.findall(
        r"<td([^>]*)>", re.search(r"<tbody><tr>(.*?)</tr>", panel.table_html.value).group(1)
    )
    assert "mlops-best" in first[auc]
    # nothing ticked: the tabs work on every run the filter keeps
    assert list(panel.checks) == [runs[f"r{i}"] for i in range(5, -1, -1)]
    assert panel.selected == [] and not any(b.value for b in panel.checks.values())
    assert "all 6 runs the filter keeps" in panel.scope_label.value
    panel.sort_by.value = "params.depth"
    panel.sort_order.value = "asc"
    depth_col = header(panel).index("params.depth")
    assert [int(r[depth_col]) for r in shown_rows(panel)] == sorted(DEPTH)
    assert panel.message.value == ""


def test_panel_pages_many_runs(store, runs) -> None:
    p = ComparePanel(compare(experiment="churn", metric="auc", store=store), page_size=4)
    assert [r[0] for r in shown_rows(p)] == ["r5", "r4", "r3", "r2"]
    assert "runs 1–4 of 6" in p.page_label.value and p.prev_button.disabled
    p.next_page()
    assert [r[0] for r in shown_rows(p)] == ["r1", "r0"] and p.next_button.disabled
    assert list(p.checks) == [runs["r1"], runs["r0"]]  # a checkbox per shown row only
    assert "mlops-best" not in p.table_html.value  # the best run is on the first page


def test_params_the_user_set_by_default_all_on_request(store) -> None:
    """Estimator defaults (params.source = 'default') are hidden unless they differ."""
    ids = []
    for i, (c, max_iter) in enumerate([(0.1, 100), (1.0, 100), (1.0, 500)]):
        rid = store.create_run("defaults", name=f"d{i}")["id"]
        store.log_params(rid, {"clf.C": c}, source="estimator")
        store.log_params(
            rid, {"clf.tol": 1e-4, "clf.max_iter": max_iter, "clf.verbose": 0}, source="default"
        )
        store.log_params(rid, {"seed": 0}, source="auto")
        store.log_metrics(rid, [("acc", 0.8 + i / 100, None, None)])
        ids.append(rid)
    cmp = compare(experiment="defaults", store=store)
    assert cmp.user_params() == ["params.clf.C", "params.seed"]
    assert cmp.varying_params() == ["params.clf.C", "params.clf.max_iter"]
    # user-set (C, seed) or differing (max_iter, a default in every run but not equal)
    assert [c for c in cmp.table.columns if c.startswith("params.")] == [
        "params.clf.C",
        "params.clf.max_iter",
        "params.seed",
    ]
    assert len(cmp.all_params().table.columns) == len(cmp.runs.columns)
    assert cmp.only_differences().shown_params() == ["params.clf.C", "params.clf.max_iter"]
    # the first two runs share max_iter = 100: only C differs among them
    two = cmp.select(["d0", "d1"])
    assert two.shown_params() == ["params.clf.C", "params.seed"]
    assert two.only_differences().shown_params() == ["params.clf.C"]
    p = cmp.panel(only_differences=False)
    assert "params.clf.tol" not in header(p) and "params.seed" in header(p)
    assert "2 params hidden (estimator defaults equal across these runs)" in p.note.value
    p.all_params.value = True
    assert "params.clf.tol" in header(p) and "params.clf.verbose" in header(p)


def test_tick_boxes_choose_what_the_tabs_show(panel, runs) -> None:
    assert "best of 6 runs" in show_tab(panel, "Best")
    panel.select([runs["r0"], runs["r1"]])
    best = show_tab(panel, "Best")
    assert "best of 2 runs" in best and ">r1<" in best
    assert "the 2 ticked runs" in panel.scope_label.value
    panel.checks[runs["r4"]].value = True
    assert panel.selected == [runs["r0"], runs["r1"], runs["r4"]]
    assert ">r4<" in panel.outputs["Best"].value and "best of 3 runs" in panel.outputs["Best"].value
    panel.best_direction.value = "min"
    assert ">r0<" in panel.outputs["Best"].value
    panel.checks[runs["r4"]].value = False
    assert runs["r4"] not in panel.selected


def test_a_second_quick_tick_counts_though_the_first_redrew_the_table(panel, runs) -> None:
    """The browser holds the page's boxes: a tick sent before the first tick's redraw reached
    it lands on the box it was made on (the redraw used to close and replace every box, and
    such a tick was lost: found by the JupyterLab test)."""
    assert panel.only_diff.value  # a tick redraws the table (equal params follow the ticks)
    first, second = panel.checks[runs["r1"]], panel.checks[runs["r2"]]
    first.value = True
    second.value = True
    assert panel.selected == [runs["r1"], runs["r2"]]
    assert "best of 2 runs" in show_tab(panel, "Best")


def test_only_differences_follows_the_ticked_runs(panel, runs) -> None:
    chosen = [i for i in range(6) if DEPTH[i] == 2]  # r0 (rf, seed 0) and r3 (gb, seed 1)
    panel.select([runs[f"r{i}"] for i in chosen])
    shown = header(panel)
    assert "params.lr" not in shown and "params.depth" not in shown
    assert "params.model_type" in shown and "params.seed" in shown
    panel.only_diff.value = False
    assert "params.depth" in header(panel)


def test_tabs_open_on_defaults_that_show_something(panel, runs) -> None:
    for name in ("Curves", "Scatter", "Parallel"):
        markup = show_tab(panel, name)
        assert markup.startswith("<img") and "base64," in markup, name
        assert 'width="' in markup and "max-width:100%" in markup  # HiDPI, fits the panel
    assert panel.scatter_param.value != "lr"  # a param that varies
    assert panel.curve_metric.value == "auc"  # the metric that has steps
    # Groups over every run the filter keeps: 3 runs per model type
    panel.group_param.value = "model_type"
    groups = show_tab(panel, "Groups")
    assert "±" in groups and ">rf<" in groups and ">gb<" in groups
    assert groups.count("<td>3</td>") == 2
    # At step opens at the last step logged
    assert panel.step.value == 3
    assert f"{auc_at(2, 3):.4g}" in show_tab(panel, "At step")
    panel.step.value = 1
    at_step = show_tab(panel, "At step")
    assert f"{auc_at(2, 1):.4g}" in at_step and f"{auc_at(2, 3):.4g}" not in at_step
    # Diff: the baseline (the oldest run) against the challenger (the best run)
    assert (panel.diff_a.value, panel.diff_b.value) == (runs["r0"], runs["r5"])
    diff = show_tab(panel, "Diff")
    assert "Diff of runs r0 -&gt; r5" in diff
    # two ticked runs: the older one is the baseline, whatever order they were ticked in
    panel.select([runs["r2"], runs["r0"]])
    diff = show_tab(panel, "Diff")
    assert "Diff of runs r0 -&gt; r2" in diff
    assert "Forest(depth=2)" in diff and "Forest(depth=6)" in diff
    panel.select([runs["r0"]])
    assert "Tick two runs" in show_tab(panel, "Diff")
    assert panel.message.value == ""


def test_curves_of_single_values_are_bars(panel) -> None:
    panel.curve_metric.value = "loss"
    markup = show_tab(panel, "Curves")
    assert markup.startswith("<img") and "logged once per run, so it is drawn as bars" in markup


def test_panel_output_bundles_the_static_html(panel) -> None:
    bundle = panel._repr_mimebundle_()
    view = bundle["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == panel.widget.model_id
    assert bundle["application/vnd.mlops-jupyter.panel+json"]["model_id"] == view["model_id"]
    static = bundle["text/html"]
    assert "script" not in parse(static).tags
    runs_table = re.search(r'<table class="mlops-table mlops-runs">.*?</table>', static, re.S)
    assert runs_table and runs_table.group(0).count("<tr>") == 8
    for name in panel.TABS:  # every tab, as the panel shows it now
        assert f"<summary>{name}</summary>" in static


def test_panel_escapes_user_data(store) -> None:
    evil = "<script>alert(1)</script>"
    rid = store.create_run("x", name=evil)["id"]
    store.log_params(rid, {evil: evil})
    store.log_metrics(rid, [(evil, 1.0, 0, None)])
    p = compare(experiment="x", store=store).panel()
    for name in p.TABS:
        show_tab(p, name)
    for markup in [p.table_html.value, p.message.value, *(o.value for o in p.outputs.values())]:
        assert "script" not in parse(markup).tags
    assert "&lt;script&gt;" in p.table_html.value


# -- %mlops compare ---------------------------------------------------------------------------


def test_magic_returns_the_panel(shell, store, runs) -> None:
    result = shell.run_line_magic("mlops", "compare --experiment churn --metric auc")
    assert isinstance(result, ComparePanel)
    assert result.base.metric == "metrics.auc" and len(result.base) == 6
    filtered = shell.run_line_magic(
        "mlops", 'compare --experiment churn --filter "depth > 3" --only-differences'
    )
    # filter and toggle start in the live controls, so the user can change them
    assert filtered.filter_text.value == "depth > 3" and filtered.only_diff.value
    assert len(filtered.view) == sum(d > 3 for d in DEPTH)
    shown = filtered.table_html.value
    hidden = [p for p in filtered.view.params if p in constant_params(filtered.scope().runs)]
    assert hidden and all(f'title="{p}"' not in shown for p in hidden)
    filtered.filter_text.value = ""
    assert len(filtered.view) == len(DEPTH)
    named = shell.run_line_magic("mlops", f"compare {runs['r0']} r1")
    assert sorted(named.base.table["run_name"]) == ["r0", "r1"]
    diff = shell.run_line_magic("mlops", "compare --diff r0 r5")
    assert diff.params.set_index("param").loc["depth"].tolist() == [DEPTH[0], DEPTH[5]]


def test_magic_defaults_to_the_sessions_experiment(shell) -> None:
    run(
        shell,
        "import mlops_jupyter as mj\n"
        "mj.set_experiment('sweep')\n"
        "for depth in (1, 2, 3):\n"
        "    with mj.start_run(f'd{depth}'):\n"
        "        mj.log_param('depth', depth)\n"
        "        for step in range(3):\n"
        "            mj.log_metric('acc', depth / 10 + step / 100, step=step)\n",
    )
    run(shell, "panel = %mlops compare --metric acc")
    panel = shell.user_ns["panel"]
    assert panel.base.experiment == "sweep"
    assert list(panel.base.table["run_name"]) == ["d3", "d2", "d1"]
    assert panel.base.table["metrics.acc"].tolist() == pytest.approx([0.32, 0.22, 0.12])


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("compare --experiment churn --metric f1", "No metric 'f1' in these runs"),
        ("compare --experiment churn --filter 'auc >'", "Cannot parse the filter"),
        ("compare nope", "No run with id 'nope'"),
        ("compare --bogus", "unrecognized arguments: --bogus"),
    ],
)
def test_magic_errors_are_one_line(shell, store, runs, capsys, line, message) -> None:
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match=re.escape(message)):
        shell.run_line_magic("mlops", line)
    result = run(shell, f"%mlops {line}", check=False)
    assert not result.success
    out = capsys.readouterr()
    seen = (out.out + out.err).strip().splitlines()
    assert len(seen) == 1 and message in seen[0] and "Traceback" not in seen[0]


# -- mlops-jupyter compare --------------------------------------------------------------------


def cli(store_file, *args: str) -> Any:
    from mlops_jupyter.cli import cli as group

    return CliRunner().invoke(group, ["--store", str(store_file), "compare", *args])


def test_cli_prints_table_best_and_groups(store_file, runs, tmp_path) -> None:
    out = cli(store_file, "-e", "churn", "-m", "auc", "--group-by", "model_type")
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0] == "6 runs (experiment churn)"
    assert lines[1].split()[:3] == ["run_name", "auc", "loss"]  # what tells runs apart first
    assert [ln.split()[0] for ln in lines[2:8]] == [f"r{i}" for i in range(5, -1, -1)]
    assert lines[2].split()[1] == f"{auc_at(5, 3):.4g}"  # rounded for people
    assert "(1 params equal across these runs hidden; --all-params shows them)" in out.output
    assert f"best by metrics.auc (max): r5 ({runs['r5']}) = {auc_at(5, 3):.4g}" in out.output
    assert "groups by model_type:" in out.output
    html_file = tmp_path / "cmp.html"
    out = cli(store_file, "-e", "churn", "-f", 'model_type == "gb"', "--html", str(html_file))
    assert out.exit_code == 0 and out.output.startswith("3 runs (experiment churn), filter:")
    assert "Comparison of 3 runs" in html_file.read_text()


def test_cli_fits_the_terminal(store_file, runs, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "50")
    out = cli(store_file, "-e", "churn", "--all-params")
    assert out.exit_code == 0, out.output
    assert max(len(line) for line in out.output.splitlines()) <= 50
    assert "more columns:" in out.output


def test_cli_diff_and_errors(store_file, runs) -> None:
    out = cli(store_file, "--diff", "r0", "r4")
    assert out.exit_code == 0, out.output
    assert f"a = r0 ({runs['r0']}), b = r4 ({runs['r4']})" in out.output
    assert "-model = Forest(depth=2)" in out.output and "+model = Forest(depth=4)" in out.output
    assert "packages that differ (2):" in out.output
    bad = cli(store_file, "-e", "churn", "-f", "nope > 1")
    assert bad.exit_code == 2
    assert bad.output.startswith("Error: No column 'nope' in the runs table.")
    assert "Traceback" not in bad.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--group-by", "nope"], "Error: No param 'nope' in these runs. Params: depth, lr,"),
        (["--direction", "min"], "Error: --direction needs --metric: it says whether"),
        (["--html", "{tmp}/afile/x.html"], "Error: Cannot write {tmp}/afile/x.html: Not a dir"),
        (["--diff", "r0", "r1", "--html", "{tmp}/afile/d.html"], "Error: Cannot write {tmp}/"),
    ],
)
def test_cli_bad_options_print_one_line_and_nothing_else(
    store_file, runs, tmp_path, args, message
) -> None:
    (tmp_path / "afile").write_text("a regular file, so afile/x.html cannot be created")
    out = cli(store_file, "-e", "churn", *(a.format(tmp=tmp_path) for a in args))
    assert out.exit_code == 2
    assert out.output.startswith(message.format(tmp=tmp_path))
    assert len(out.output.strip().splitlines()) == 1 and "Traceback" not in out.output


# -- the saved notebook -----------------------------------------------------------------------


@pytest.mark.slow
def test_saved_notebook_shows_the_static_comparison_in_nbconvert(workdir, tmp_path) -> None:
    """A notebook executed without saving widget state: nbconvert falls back to the HTML."""
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    evil = "<script>alert(1)</script>"
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext mlops_jupyter"),
        nbformat.v4.new_code_cell(
            "from mlops_jupyter.store import open_store\n"
            "s = open_store()\n"
            "for i in range(3):\n"
            f"    r = s.create_run('nbx', name=f'run{{i}}')['id']\n"
            f"    s.log_params(r, {{'depth': i, {evil!r}: 'x'}})\n"
            "    s.log_metrics(r, [('auc', 0.5 + i / 10, step, None) for step in range(3)])"
        ),
        nbformat.v4.new_code_cell("%mlops compare --experiment nbx --metric auc"),
    ]
    NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
        store_widget_state=False,  # as after a kernel restart or on GitHub
    ).execute()
    outputs = nb.cells[2].outputs
    assert len(outputs) == 1
    data = outputs[0]["data"]
    assert "application/vnd.jupyter.widget-view+json" in data and "text/html" in data
    body, _ = HTMLExporter().from_notebook_node(nb)
    assert "Comparison of 3 runs in experiment nbx" in body
    assert "best by <b>auc</b> (max)" in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and evil not in body


def test_compare_sees_metrics_logged_earlier_in_the_same_cell(shell) -> None:
    run(
        shell,
        "import mlops_jupyter as mj\n"
        "mj.set_experiment('same-cell')\n"
        "mj.start_run('live')\n"
        "mj.log_param('lr', 0.5)\n"
        "mj.log_metric('loss', 0.25, step=1)\n"
        "cmp = mj.compare()",
    )
    cmp = shell.user_ns["cmp"]
    assert cmp.experiment == "same-cell"
    assert cmp.table.set_index("run_name").loc["live", "metrics.loss"] == 0.25
