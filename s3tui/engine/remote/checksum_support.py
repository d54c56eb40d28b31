"""Whether an endpoint takes the checksum headers s3tui sends, found on the first request and
remembered per endpoint.

Some S3-compatible stores (and older gateways) answer 400 InvalidRequest / 501 NotImplemented to
any ``x-amz-checksum-*`` header. Until a request that carried the chosen checksum succeeded, a
refusal of such a request is taken for a refusal of the headers *only if* the same request then
succeeds without them (with Content-MD5, else with no checksum at all): a 400 that has another
cause (a bad option) fails the same way without them, and then the original choice stands and
the error is reported as it is. A fallback that is proven is said in one line and remembered in
the user state dir (``checksum-support.json``, 0600 in 0700, written atomically; the endpoint
without ``user:password@``, nothing else) for :data:`REMEMBER_DAYS`, so later runs start with
it and pay no probe; ``--checksum`` given on the command line probes again.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from s3tui.engine.checksums import MD5, NONE, Checksum
from s3tui.engine.redact import without_userinfo
from s3tui.engine.remote.errors import error_code

REMEMBER_DAYS = 30
FILE_NAME = "checksum-support.json"
# What a store that does not understand a header answers (AWS: InvalidRequest/InvalidArgument
# with 400; gateways: 501 NotImplemented, or a bare 400 on a HEAD).
REFUSAL_CODES = frozenset(
    {"InvalidRequest", "InvalidArgument", "NotImplemented", "BadRequest", "400", "501"}
)


def memory_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_state_dir("s3tui")) / FILE_NAME


def _load(path: Path) -> dict[str, dict[str, object]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save(path: Path, data: dict[str, dict[str, object]]) -> None:
    """Atomic, 0600 in a 0700 dir; a failure only costs the next run a probe."""
    with contextlib.suppress(OSError):
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")  # 0600
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(data, f, indent=1, sort_keys=True)
            os.replace(tmp, path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def remembered(endpoint: str, now: float | None = None) -> str | None:
    """What the endpoint was found to refuse within :data:`REMEMBER_DAYS`: "checksum" (the
    ``x-amz-checksum-*`` headers) or "md5" (Content-MD5 too); None when nothing is known."""
    entry = _load(memory_path()).get(without_userinfo(endpoint))
    if not isinstance(entry, dict):
        return None
    since = entry.get("since")
    now = time.time() if now is None else now
    if not isinstance(since, int | float) or now - since > REMEMBER_DAYS * 86400:
        return None
    refuses = entry.get("refuses")
    return refuses if refuses in ("checksum", "md5") else None


def remember(endpoint: str, refuses: str | None) -> None:
    """Note (or with None forget) what ``endpoint`` refuses."""
    path = memory_path()
    data = _load(path)
    key = without_userinfo(endpoint)
    if refuses is None:
        if data.pop(key, None) is None:
            return
    else:
        data[key] = {"refuses": refuses, "since": int(time.time())}
    _save(path, data)


class ChecksumSupport:
    """The checksum a :class:`~s3tui.engine.remote.calls.Remote` sends now, and the probe that
    may change it once. Thread-safe; the jobs send their first request alone, so in practice
    one request probes."""

    def __init__(
        self,
        chosen: Checksum,
        endpoint: str = "",
        *,
        memory: bool = False,
        reprobe: bool = False,
    ) -> None:
        self.chosen = chosen
        self.endpoint = without_userinfo(endpoint)
        self._memory = memory and bool(self.endpoint)
        self._reprobe = reprobe
        self._lock = threading.Lock()
        self.notices: list[str] = []
        self.on_notice: Callable[[str], None] | None = None
        self.current = chosen
        self._confirmed = chosen.algorithm is NONE
        self._refused: list[Checksum] = []  # tried and refused, not yet said
        self._proven = 0  # how many of them a request without them proved refused
        known = remembered(self.endpoint) if self._memory and not reprobe else None
        if known is not None and chosen.algorithm is not NONE:
            start = Checksum(NONE) if known == "md5" else chosen.fallback()
            if chosen.algorithm is MD5 and known == "checksum":
                start = chosen  # Content-MD5 was not found refused
            assert start is not None
            if start != chosen:
                self.current = start
                self._confirmed = True  # proven by an earlier run: no probe
                self._say(
                    f"{self.endpoint} refused {chosen.algorithm.label} headers in an earlier "
                    f"run: sending {start.label} instead (remembered for {REMEMBER_DAYS} days; "
                    "--checksum on the command line probes again)"
                )

    def _say(self, line: str) -> None:
        self.notices.append(line)
        if self.on_notice is not None:
            self.on_notice(line)

    def set_listener(self, fn: Callable[[str], None]) -> None:
        """``fn`` gets each notice line, the ones already said first."""
        self.on_notice = fn
        for line in self.notices:
            fn(line)

    def refused(self, sent: Checksum, carried: bool, exc: BaseException) -> Checksum | None:
        """A request that sent ``sent`` failed with ``exc``: the checksum to try the request
        with next, or None (``exc`` stands)."""
        with self._lock:
            if sent != self.current:
                return self.current  # another request switched meanwhile: resend with that
            refusal = error_code(exc) in REFUSAL_CODES
            if self._confirmed or not carried or not refusal:
                if len(self._refused) > self._proven and not carried and refusal:
                    self._revert_locked()  # refused even without checksum headers: not them
                return None
            fallback = sent.fallback()
            if fallback is None:
                self._revert_locked()
                return None
            self._refused.append(sent)
            self.current = fallback
            return fallback

    def _revert_locked(self) -> None:
        """The refusals not proven were not about the checksum headers: back to the last
        choice they left, no more probing."""
        del self._refused[self._proven :]
        self.current = self._refused[-1].fallback() or self.chosen if self._refused else self.chosen
        self._confirmed = True

    def accepted(self, sent: Checksum, carried: bool) -> None:
        """A request that sent ``sent`` succeeded (``carried``: with checksum headers)."""
        if self._confirmed and not self._refused:
            return
        with self._lock:
            if sent != self.current:
                return
            if carried:
                self._confirmed = True
            proven = list(self._refused)
            if carried or not sent.algorithm.sends:  # the fallback itself is settled: say it
                self._refused, self._proven = [], 0
                said = True
            else:  # a request without checksum headers (a create) proved the refusal; whether
                # the fallback is taken is told by the first request that carries it
                self._proven = len(self._refused)
                said = False
        if proven:
            self._fell_back(proven, said)
        elif carried and self._memory and self._reprobe and sent == self.chosen:
            remember(self.endpoint, None)  # it takes them now: forget an old refusal

    def _fell_back(self, proven: list[Checksum], say: bool) -> None:
        md5_too = any(c.algorithm is MD5 for c in proven)
        if self._memory:
            remember(self.endpoint, "md5" if md5_too else "checksum")
        if not say:
            return
        names = " and ".join(dict.fromkeys(c.algorithm.label for c in proven))
        if self.current.algorithm is NONE:
            then = "sending no checksum: only sizes are checked (a weaker guarantee)"
        else:
            then = f"sending {self.current.label} per part instead"
        self._say(
            f"{self.endpoint or 'the store'} refuses {names} headers: {then} (remembered for "
            f"{REMEMBER_DAYS} days)"
        )
