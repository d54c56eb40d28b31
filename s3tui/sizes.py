"""Human sizes: ``"50MB"``, ``"64MiB"``, ``"1.5GiB"`` or plain bytes, and back; and durations
(``"30m"``, ``"1h30m"``, ``"90"`` seconds)."""

from __future__ import annotations

import re

KiB = 1024
MiB = 1024**2
GiB = 1024**3
TiB = 1024**4
# No size s3tui handles comes near this; beyond it rates and byte counts stop fitting a float.
MAX_SIZE = 8 * 1024**6

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "ki": KiB,
    "kib": KiB,
    "mi": MiB,
    "mib": MiB,
    "gi": GiB,
    "gib": GiB,
    "ti": TiB,
    "tib": TiB,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str) -> int:
    """Parse a size; decimal units (MB) are powers of 1000, binary units (MiB) of 1024.

    Raises ValueError with a message that shows what is accepted.
    """
    m = _SIZE_RE.match(str(text))
    unit = m.group(2).lower() if m else ""
    if not m or unit not in _UNITS:
        raise ValueError(
            f"invalid size {text!r}: use a number of bytes or a unit, e.g. 50MB, 64MiB, 1.5GiB"
        )
    # Integer arithmetic: a float turns 400 digits into inf (int(inf) raises OverflowError).
    whole, _, frac = m.group(1).partition(".")
    if len(whole.lstrip("0")) > 20:
        raise ValueError(f"invalid size {text!r}: too large (at most 8 EiB)")
    if len(frac) > 20:
        raise ValueError(f"invalid size {text!r}: too many decimals")
    scaled = int(whole + frac or "0") * _UNITS[unit]
    value, rest = divmod(scaled, 10 ** len(frac))
    if rest and unit in ("", "b"):
        raise ValueError(f"invalid size {text!r}: bytes must be a whole number")
    if value > MAX_SIZE:
        raise ValueError(f"invalid size {text!r}: too large (at most 8 EiB)")
    return value


def format_size(n: float) -> str:
    """Binary units with three significant digits, e.g. ``"1.50 GiB"``, ``"512 B"``."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            if unit == "B":
                return f"{int(n)} B"
            return f"{n:.3g} {unit}" if abs(n) < 100 else f"{n:.0f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def format_rate(bytes_per_second: float) -> str:
    """Throughput in MB/s (decimal, as network tools and ``--stats-file`` report it)."""
    return f"{bytes_per_second / 1e6:.1f} MB/s"
