"""The comparison panel driven from Python, %mlops compare in a real shell, the CLI."""

from __future__ import annotations

import re
from typing import Any

import pytest
from click.testing import CliRunner

from mlops_jupyter.analysis.compare import compare, constant_params
from mlops_jupyter.display.compare import ComparePanel

try:  # tests/ as a package or as a plain folder on sys.path
    from .test_compare import DEPTH, MODEL, SEED, auc_at, parse, populate
except ImportError:
    from test_compare import DEPTH, MODEL, SEED, auc_at, parse, populate  # type: ignore[no-redef]


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
    """The table the user sees, as text cells per row (header excluded)."""
    rows = re.findall(r"<tr>(.*?)</tr>", panel.table_html.value)[1:]
    return [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in rows]


def header(panel: ComparePanel) -> list[str]:
    return re.findall(r"<th>(.*?)</th>", panel.table_html.value)


def show_tab(panel: ComparePanel, name: str) -> str:
    panel.tabs.selected_index = panel.TABS.index(name)
    return panel.outputs[name].value


def test_panel_shows_runs_sorted_with_a_checkbox_each(panel, runs) -> None:
    assert [r[1] for r in shown_rows(panel)] == ["r5", "r4", "r3", "r2", "r1", "r0"]
    assert list(panel.checks) == [runs[f"r{i}"] for i in range(5, -1, -1)]
    assert panel.selected == [runs[f"r{i}"] for i in range(5, 0, -1)]  # five best ticked
    assert [b.value for b in panel.checks.values()] == [True] * 5 + [False]
    panel.sort_by.value = "params.depth"
    panel.sort_order.value = "asc"
    depth_col = header(panel).index("params.depth")
    assert [int(r[depth_col]) for r in shown_rows(panel)] == sorted(DEPTH)
    assert panel.message.value == ""


def test_filter_box_narrows_the_table_and_reports_errors(panel, runs) -> None:
    panel.filter_text.value = 'model_type == "rf" or depth >= 6'
    want = {f"r{i}" for i in range(6) if MODEL[i] == "rf" or DEPTH[i] >= 6}
    assert {r[1] for r in shown_rows(panel)} == want
    assert set(panel.checks) == {runs[n] for n in want}
    panel.filter_text.value = "metrics.f1 > 2"  # an error: shown in the panel, never raised
    assert "No column &#x27;metrics.f1&#x27;" in panel.message.value
    assert "metrics.auc" in panel.message.value  # says what exists
    assert {r[1] for r in shown_rows(panel)} == want  # the last good view stays
    panel.filter_text.value = ""
    assert len(shown_rows(panel)) == 6 and panel.message.value == ""


def test_checkboxes_choose_what_the_tabs_show(panel, runs) -> None:
    panel.select([runs["r0"], runs["r1"]])
    best = show_tab(panel, "Best")
    assert "best of 2 runs" in best and ">r1<" in best
    panel.checks[runs["r4"]].value = True
    assert panel.selected == [runs["r0"], runs["r1"], runs["r4"]]
    assert ">r4<" in panel.outputs["Best"].value and "best of 3 runs" in panel.outputs["Best"].value
    panel.best_direction.value = "min"
    assert ">r0<" in panel.outputs["Best"].value
    panel.checks[runs["r4"]].value = False
    assert runs["r4"] not in panel.selected


def test_only_differences_hides_params_equal_across_selected_runs(panel, runs) -> None:
    assert "params.lr" in header(panel)
    chosen = [i for i in range(6) if DEPTH[i] == 2]  # r0 (rf, seed 0) and r3 (gb, seed 1)
    panel.select([runs[f"r{i}"] for i in chosen])
    panel.only_diff.value = True
    shown = header(panel)
    assert "params.lr" not in shown and "params.depth" not in shown
    assert "params.model_type" in shown and "params.seed" in shown
    assert len({SEED[i] for i in chosen}) == 2
    panel.only_diff.value = False
    assert "params.depth" in header(panel)


def test_tabs_render_plots_groups_steps_and_diff(panel, runs) -> None:
    for name in ("Curves", "Scatter", "Parallel"):
        markup = show_tab(panel, name)
        assert markup.startswith("<img") and "base64," in markup, name
    panel.select(list(runs.values()))
    panel.group_param.value = "model_type"
    groups = show_tab(panel, "Groups")
    assert "±" in groups and ">rf<" in groups and ">gb<" in groups
    panel.step.value = 1
    at_step = show_tab(panel, "At step")
    assert f"{auc_at(2, 1):.4g}" in at_step and f"{auc_at(2, 3):.4g}" not in at_step
    panel.select([runs["r0"], runs["r2"]])
    diff = show_tab(panel, "Diff")
    assert "Diff of runs r0 -&gt; r2" in diff or "Diff of runs r2 -&gt; r0" in diff
    assert "Forest(depth=2)" in diff and "Forest(depth=6)" in diff
    panel.select([runs["r0"]])
    assert "Select two runs" in show_tab(panel, "Diff")
    assert panel.message.value == ""


def test_panel_output_bundles_the_static_html(panel) -> None:
    bundle = panel._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == panel.widget.model_id
    static = parse(bundle["text/html"])
    assert "script" not in static.tags and static.tags.count("tr") == 7


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
    assert hidden and all(f">{p}<" not in shown for p in hidden)
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
    assert lines[1].split()[:3] == ["run_id", "run_name", "status"]
    assert [ln.split()[1] for ln in lines[2:8]] == [f"r{i}" for i in range(5, -1, -1)]
    assert f"best by metrics.auc (max): r5 ({runs['r5']}) = {auc_at(5, 3):.6g}" in out.output
    assert "groups by model_type:" in out.output
    html_file = tmp_path / "cmp.html"
    out = cli(store_file, "-e", "churn", "-f", 'model_type == "gb"', "--html", str(html_file))
    assert out.exit_code == 0 and out.output.startswith("3 runs (experiment churn), filter:")
    assert "Comparison of 3 runs" in html_file.read_text()


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
    assert "best by <b>metrics.auc</b> (max)" in body
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
