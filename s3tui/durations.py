"""Human durations: ``"7d"``, ``"36h"``, ``"1d12h"``, ``"90s"`` to seconds, and ages back.

A bare number is refused unless the caller says it means seconds (``--patience 90``, a config
file's ``patience = 3600``): in ``--older-than 7`` nobody can tell days from seconds, and a
guess that is off by 86,400 aborts uploads that are still wanted.
"""

from __future__ import annotations

import re

_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+(?:\.\d+)?)([wdhms])")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?[wdhms])+")
_BARE = re.compile(r"\d+(?:\.\d+)?")
# Far past any age S3 can show; keeps a typo of many digits from becoming inf or an overflow.
MAX_DURATION = 100 * 365 * 86400
# The longest a running upload may be told to wait (--patience): keeps its clocks finite.
LONGEST_WAIT = 366 * 86400


def parse_duration(
    text: str, *, bare_seconds: bool = False, longest: float = MAX_DURATION
) -> float:
    """Seconds in ``text``: numbers with units ``w d h m s``, summed (``1d12h`` is 36 hours);
    with ``bare_seconds`` a plain number too. At most ``longest`` seconds.

    Raises ValueError with a message that shows what is accepted.
    """
    spelled = str(text).strip().lower().replace(" ", "")
    if bare_seconds and _BARE.fullmatch(spelled):
        seconds = float(spelled)
    elif _WHOLE.fullmatch(spelled):
        seconds = sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(spelled))
    else:
        plain = "90 (seconds), " if bare_seconds else ""
        raise ValueError(
            f"invalid duration {text!r}: use {'' if bare_seconds else 'a number with a unit, '}"
            f"e.g. {plain}30s, 90m, 36h, 7d, 2w (or several: 1d12h)"
        )
    if seconds > longest:
        raise ValueError(f"invalid duration {text!r}: too long (at most {format_age(longest)})")
    return seconds


def format_age(seconds: float) -> str:
    """The two largest units: ``"3d 4h"``, ``"5h 12m"``, ``"4m 3s"``, ``"12s"``."""
    left = max(0, int(seconds))
    shown = []
    for unit in ("d", "h", "m", "s"):
        n, left = divmod(left, _UNITS[unit])
        if n or shown:
            shown.append(f"{n}{unit}")
        if len(shown) == 2:
            break
    return " ".join(shown) or "0s"
