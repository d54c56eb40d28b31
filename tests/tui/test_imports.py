"""The engine and the dashboard meet only in the progress model: prove it by import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def loaded_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {name.split(".")[0] for name in out.split()}


def test_dashboard_does_not_import_boto() -> None:
    loaded = loaded_after("import s3tui.tui.app")
    assert "textual" in loaded
    assert "boto3" not in loaded
    assert "botocore" not in loaded


def test_engine_does_not_import_textual() -> None:
    code = (
        "import pkgutil, importlib, s3tui.engine\n"
        "for m in pkgutil.walk_packages(s3tui.engine.__path__, 's3tui.engine.'):\n"
        "    importlib.import_module(m.name)"
    )
    loaded = loaded_after(code)
    assert "textual" not in loaded
    assert "rich" not in loaded


def test_cli_side_helpers_are_cheap() -> None:
    """The CLI decides TUI or headless before anything heavy is loaded."""
    loaded = loaded_after("import s3tui.tui, s3tui.tui.terminal")
    assert "textual" not in loaded
    assert "boto3" not in loaded


def test_headless_path_does_not_import_humanize() -> None:
    """humanize formats counts on the dashboard only: ~2-4 ms of imports the headless start
    does without."""
    loaded = loaded_after(
        "import s3tui.cli, s3tui.drive, s3tui.engine.stream, s3tui.engine.tree,"
        " s3tui.report.headless"
    )
    assert "humanize" not in loaded
