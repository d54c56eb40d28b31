"""Find the dashboard's stylesheets, which live in the top-level ``tcss/`` of the repository.

``pyproject.toml`` maps ``tcss/`` to the package ``s3tui.tcss``, so both a wheel and an editable
install expose it through importlib.resources. A checkout run without installing (``python -m
pytest`` from the repository root) has no ``s3tui.tcss``; the directory is then found beside the
package.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def stylesheet_dir() -> Path:
    try:
        return Path(str(resources.files("s3tui.tcss")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "tcss"


def stylesheet_paths() -> list[Path]:
    """Every ``*.tcss`` file, in name order (later files may refine earlier ones)."""
    return sorted(stylesheet_dir().glob("*.tcss"))
