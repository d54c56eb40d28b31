"""pyproject lists its packages (so tcss/ can ship as s3tui.tcss): none may be forgotten."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_is_listed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "s3tui").rglob("__init__.py")
    }
    assert on_disk - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert config["package-dir"]["s3tui.tcss"] == "tcss"
    assert (ROOT / "tcss" / "__init__.py").exists()
    assert sorted(p.name for p in (ROOT / "tcss").glob("*.tcss"))
