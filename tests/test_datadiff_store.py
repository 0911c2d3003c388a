"""Dataset versions and diffs through the store, %mlops diff/datasets and the CLI (#5)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from IPython.core.error import UsageError

from mlops_jupyter.analysis.datadiff import datasets, diff
from mlops_jupyter.capture.record import record_dataset
from mlops_jupyter.errors import AnalysisError, DatasetNotFound


def run(shell: Any, code: str) -> Any:
    """One captured cell, like a notebook runs it (the same as conftest's ``run``)."""
    result = shell.run_cell(code, store_history=True)
    assert result.success, result.error_in_exec or result.error_before_exec
    return result


def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    a = pd.DataFrame({"id": range(6), "x": [0.5, 1.5, 2.5, 3.5, 4.5, 5.5], "s": list("abcdef")})
    b = a.copy()
    b.loc[2, "x"] = 9.0
    b = b[b.id != 4]
    b = pd.concat([b, pd.DataFrame({"id": [10], "x": [1.0], "s": ["z"]})], ignore_index=True)
    return a, b


def test_versions_listed_with_shape_and_cell(store: Any) -> None:
    a, b = frames()
    record_dataset(store, "sales", a)
    record_dataset(store, "sales", a)  # same content: no new version
    record_dataset(store, "sales", b)
    record_dataset(store, "other", b)
    table = datasets("sales", store=store)
    assert table[["name", "version", "rows", "cols"]].values.tolist() == [
        ["sales", 1, 6, 3],
        ["sales", 2, 6, 3],
    ]
    assert table["fingerprint"].str.len().tolist() == [32, 32]
    assert not table["snapshot"].any()
    assert len(datasets(store=store)) == 3
    with pytest.raises(DatasetNotFound, match="%mlops datasets"):
        datasets("nope", store=store)


def test_diffing_frames_snapshots_them_and_records_the_edge(store: Any) -> None:
    a, b = frames()
    record_dataset(store, "sales", a)
    record_dataset(store, "sales", b)
    live = diff(a, b, key="id", store=store)
    assert (live.a_label, live.b_label) == ("sales@1", "sales@2")
    assert datasets("sales", store=store)["snapshot"].all()
    stored = diff("sales@1", "sales@latest", key="id", store=store)
    for field in ("added", "removed", "changed", "unchanged"):
        assert stored.summary[field] == live.summary[field]
    assert stored.changed.to_dict("records") == [
        {"id": 2, "column": "x", "before": 2.5, "after": 9.0}
    ]
    fp_a, fp_b = stored.a_ref["fingerprint"], stored.b_ref["fingerprint"]
    edges = store.edges(relation="diffed")
    assert [(e["src_id"], e["dst_id"]) for e in edges] == [(fp_a, fp_b)]  # recorded once
    saved = store.list_dataset_diffs(fp_a)
    assert len(saved) == 1 and saved[0]["summary"]["changed"] == 1 and saved[0]["key"] == ["id"]
    prefix = diff(fp_a[:10], "sales", key="id", store=store)
    assert prefix.summary["removed"] == 1


def test_stored_version_from_its_unchanged_source_file(store: Any, workdir: Path) -> None:
    a, b = frames()
    path = workdir / "sales.csv"
    a.to_csv(path, index=False)
    record_dataset(store, "sales", pd.read_csv(path), source_path=str(path))
    record_dataset(store, "sales", b)
    d = diff("sales@1", b, key="id", store=store, snapshot=False)
    assert d.summary["changed"] == 1
    b.to_csv(path, index=False)  # the file moved on: version 1's rows are gone
    with pytest.raises(AnalysisError, match=r"no stored rows.*changed since.*mj\.diff"):
        diff("sales@1", "sales@2", key="id", store=store)


def test_version_without_rows_says_how_to_get_them(store: Any) -> None:
    a, b = frames()
    record_dataset(store, "sales", a)
    record_dataset(store, "sales", b)
    with pytest.raises(AnalysisError, match="no stored rows"):
        diff("sales@1", "sales@2", store=store)
    with pytest.raises(DatasetNotFound, match="No stored dataset matches 'sales@7'"):
        diff("sales@7", "sales@2", store=store)


def test_unrecorded_frames_leave_no_trace(store: Any) -> None:
    a, b = frames()
    diff(a, b, key="id", store=store)
    assert store.edges(relation="diffed") == []
    assert store.list_dataset_diffs() == []


# -- %mlops ------------------------------------------------------------------------------------


def test_magic_datasets_and_diff(shell: Any) -> None:
    run(shell, "import pandas as pd\ndf = pd.DataFrame({'id': range(5), 'x': [1.0] * 5})")
    run(shell, "df_v1 = df.copy()")
    run(shell, "df.loc[1, 'x'] = 2.0\ndf = df[df.id != 3]")
    run(shell, "df_v2 = df")
    table = shell.run_line_magic("mlops", "datasets df")
    assert table["version"].tolist() == [1, 2]
    assert table["cell"].notna().all() and table["code"].str.contains("df").all()
    d = shell.run_line_magic("mlops", "diff df_v1 df_v2 --key id")
    assert (d.a_label, d.b_label) == ("df_v1", "df_v2")
    assert (d.summary["changed"], d.summary["removed"]) == (1, 1)
    stored = shell.run_line_magic("mlops", "diff df@1 df@2 --key id --atol 2")
    assert (stored.summary["changed"], stored.summary["removed"]) == (0, 1)
    run(shell, "df_v1.to_csv('v1.csv', index=False)")
    from_file = shell.run_line_magic("mlops", "diff v1.csv df_v2 --key id")
    assert (from_file.a_label, from_file.summary["changed"]) == ("v1.csv", 1)
    unkeyed = shell.run_line_magic("mlops", "diff df_v1 df_v2")
    assert (unkeyed.summary["removed"], unkeyed.summary["added"]) == (2, 1)
    assert "<svg" in unkeyed._repr_html_() or unkeyed.distributions == {}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("diff df_v1", "the following arguments are required: B"),
        ("diff df_v1 nope", "No stored dataset matches 'nope'"),
        ("diff df_v1 df_v1 --key zz", "Key column(s) ['zz'] are not in df_v1"),
        ("diff df_v1 df_v1 --atol x", "invalid float value"),
        ("datasets nope", "No dataset named 'nope'"),
    ],
)
def test_magic_errors_are_one_line(shell: Any, capsys: Any, line: str, message: str) -> None:
    run(shell, "import pandas as pd\ndf_v1 = pd.DataFrame({'id': [1, 2]})")
    with pytest.raises(UsageError) as info:
        shell.run_line_magic("mlops", line)
    assert message in str(info.value)
    capsys.readouterr()
    shell.run_cell(f"%mlops {line}", store_history=True)
    seen = capsys.readouterr()
    text = seen.out + seen.err
    assert message in text and "Traceback" not in text
    assert len([ln for ln in text.splitlines() if ln.strip()]) == 1


# -- mlops-jupyter -----------------------------------------------------------------------------


def test_cli_diff_files(workdir: Path) -> None:
    from mlops_jupyter.cli import cli

    a, b = frames()
    a.to_csv(workdir / "a.csv", index=False)
    b.to_parquet(workdir / "b.parquet")
    runner = CliRunner()
    out = runner.invoke(cli, ["diff", "a.csv", "b.parquet", "--key", "id"])
    assert out.exit_code == 0, out.output
    assert "added 1, removed 1, changed 1, unchanged 4" in out.output
    assert "[id=2] x: 2.5 -> 9.0" in out.output
    js = runner.invoke(cli, ["diff", "a.csv", "b.parquet", "--json", "--html", "r.html"])
    summary = json.loads(js.output)
    assert (summary["added"], summary["removed"], summary["changed"]) == (2, 2, None)
    assert "Dataset diff" in (workdir / "r.html").read_text()
    assert not (workdir / ".mlops").exists()  # two files need no store


def test_cli_diff_unwritable_html_is_one_line(workdir: Path) -> None:
    from mlops_jupyter.cli import cli

    a, _ = frames()
    a.to_csv(workdir / "a.csv", index=False)
    (workdir / "afile").write_text("a regular file, so afile/d.html cannot be created")
    out = CliRunner().invoke(cli, ["diff", "a.csv", "a.csv", "--html", "afile/d.html"])
    assert out.exit_code == 2
    assert out.output == (
        "Error: Cannot write afile/d.html: Not a directory. "
        "Give --html a file path in a folder you can write to.\n"
    )


def test_cli_datasets_and_stored_refs(workdir: Path, store_file: Path) -> None:
    from mlops_jupyter.cli import cli
    from mlops_jupyter.store import open_store

    a, b = frames()
    st = open_store(store_file)
    record_dataset(st, "sales", a)
    record_dataset(st, "sales", b)
    diff(a, b, store=st)  # snapshots both versions
    runner = CliRunner()
    listing = runner.invoke(cli, ["datasets", "sales"])
    assert listing.exit_code == 0, listing.output
    lines = listing.output.strip().splitlines()
    assert lines[0].split()[:4] == ["name", "version", "rows", "cols"]
    assert [ln.split()[:2] for ln in lines[1:]] == [["sales", "1"], ["sales", "2"]]
    out = runner.invoke(cli, ["diff", "sales@1", "sales@2", "--key", "id"])
    assert out.exit_code == 0, out.output
    assert "changed 1" in out.output
    bad = runner.invoke(cli, ["diff", "sales@1", "sales@9"])
    assert bad.exit_code == 2
    assert "Error: No stored dataset matches 'sales@9'" in bad.output
    assert "Traceback" not in bad.output


def test_large_frame_snapshot_round_trip(store: Any) -> None:
    rng = np.random.default_rng(0)
    a = pd.DataFrame({"id": np.arange(20_000), "x": rng.normal(size=20_000), "s": "q"})
    b = a.assign(x=a["x"].where(a["id"] % 100 != 0, 0.0))
    record_dataset(store, "big", a)
    record_dataset(store, "big", b)
    diff(a, b, key="id", store=store)
    again = diff("big@1", "big@2", key="id", store=store)
    assert again.summary["changed"] == 200


def test_a_frame_parquet_cannot_hold_is_diffed_with_a_warning(store: Any) -> None:
    a = pd.DataFrame({"id": [1, 2], "c": np.array([1 + 1j, 2 + 2j])})
    b = pd.DataFrame({"id": [1, 2], "c": np.array([1 + 1j, 2 + 5j])})
    record_dataset(store, "z", a)
    record_dataset(store, "z", b)
    with pytest.warns(UserWarning, match="could not snapshot"):
        result = diff(a, b, key="id", store=store)
    assert result.summary["changed"] == 1
