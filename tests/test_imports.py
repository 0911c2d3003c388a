"""Importing is cheap: the package and %load_ext never pull in heavy adapters."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = [
    "jupyter_server",
    "tornado",
    "click",
    "sqlite_utils",  # imports click and pandas; the store loads it only when needed
    "nbclient",
    "matplotlib",
    "ipywidgets",
    "scipy",
    "sklearn",
]


def _loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_is_cheap() -> None:
    loaded = _loaded_after("import mlops_jupyter")
    assert not {m for m in HEAVY if m in loaded}


def test_load_ext_is_cheap(tmp_path) -> None:
    code = (
        f"import os; os.chdir({str(tmp_path)!r})\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "sh = InteractiveShell.instance()\n"
        "sh.run_line_magic('load_ext', 'mlops_jupyter')\n"
        "sh.run_cell('x = 1', store_history=True)\n"
    )
    loaded = _loaded_after(code)
    assert not {m for m in HEAVY if m in loaded}


def test_all_sql_lives_in_the_store_package() -> None:
    """One small interface over SQL, so a server database can be a new backend, not a rewrite."""
    import re
    from pathlib import Path

    import mlops_jupyter

    sql = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b")
    package = Path(mlops_jupyter.__file__).parent
    offenders = [
        f"{path.relative_to(package)}:{number}"
        for path in package.rglob("*.py")
        if "store" not in path.relative_to(package).parts[:1]
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if sql.search(line)
    ]
    assert offenders == []


def test_public_export_is_not_shadowed_by_the_subpackage() -> None:
    """``import mlops_jupyter.export`` (status, verify, %mlops export do) keeps mj.export a function."""
    code = (
        "import mlops_jupyter as mj, mlops_jupyter.export, sys\n"
        "from mlops_jupyter.capture.status import status\n"
        "assert mj.export is sys.modules['mlops_jupyter.export'].export, mj.export\n"
        "print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr
