"""The config file: ``config.toml`` in the user config dir, with defaults and named stores.

::

    [defaults]
    chunk_size = "16MiB"
    concurrency = 8

    [stores.backup-minio]
    endpoint_url = "https://minio.example.com:9000"
    region = "eu-west-1"
    profile = "backup"

The keys are ``put``'s long option names with ``_`` for ``-`` (:data:`KEYS`), so what ``--help``
says is what the file says. A value given on the command line wins over the store named by
``--store``, which wins over ``[defaults]``. No credential is ever read from the file (a key like
``aws_secret_access_key`` is an unknown key), and ``config show`` prints an endpoint without its
``user:password@``.

Every problem (bad TOML, an unknown table or key, an unknown store, a bad value) is one
:class:`~s3tui.errors.UsageError` (exit 2) naming the file, the line and the key.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from s3tui.engine.redact import without_userinfo
from s3tui.errors import UsageError
from s3tui.sizes import parse_size

# The keys a [defaults] or [stores.NAME] table may hold, and what each is.
KEYS: dict[str, str] = {
    "endpoint_url": "url",
    "region": "region",
    "profile": "text",
    "chunk_size": "chunk",
    "concurrency": "count",
    "spool_dir": "path",
    "max_spool": "size",
    "bwlimit": "rate",
    "patience": "duration",
    "checksum": "checksum",
    "checksum_type": "checksum_type",
}

# What applies when neither the command line nor the file says (for ``config show``).
BUILT_IN = {
    "endpoint_url": "AWS S3",
    "region": "from the AWS config, else us-east-1",
    "profile": "the standard AWS credential chain",
    "chunk_size": "8MiB",
    "concurrency": "tuned while running, from 8; a value here pins it",
    "spool_dir": "$TMPDIR if set, else the user cache dir",
    "max_spool": "two chunks per request in flight",
    "bwlimit": "unlimited",
    "patience": "1h",
    "checksum": "crc32c",
    "checksum_type": "full-object for crc64nvme, else composite",
}

_CREDENTIAL_HINT = (
    "credentials are never read from this file: use the AWS credential chain "
    "(environment, ~/.aws/credentials) and name a profile with `profile = ...`"
)


def config_path() -> Path:
    """Where the config file is read from (it need not exist)."""
    import platformdirs

    return Path(platformdirs.user_config_dir("s3tui")) / "config.toml"


@dataclass(frozen=True)
class Value:
    value: Any  # as the command line would hold it: a string, or an int for concurrency
    table: str  # "defaults" or "stores.NAME"
    line: int | None


@dataclass
class Settings:
    path: Path
    exists: bool
    defaults: dict[str, Value] = field(default_factory=dict)
    stores: dict[str, dict[str, Value]] = field(default_factory=dict)

    def store(self, name: str) -> dict[str, Value]:
        if name not in self.stores:
            known = ", ".join(sorted(self.stores)) or "none"
            if not self.exists:
                raise UsageError(
                    f"--store {name!r}: there is no config file ({self.path}); write a "
                    f"[stores.{name}] table there"
                )
            raise UsageError(
                f"--store {name!r}: {self.path} has no [stores.{name}] table (stores: {known})"
            )
        return self.stores[name]

    def effective(self, store: str | None) -> dict[str, Value]:
        """The file's value for each key it sets: the store's, else the defaults'."""
        merged = dict(self.defaults)
        if store is not None:
            merged.update(self.store(store))
        return merged


def load(path: Path | None = None) -> Settings:
    """Read and check the config file; a missing file is an empty one."""
    path = config_path() if path is None else path
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Settings(path, exists=False)
    except OSError as e:
        raise UsageError(f"{path}: cannot read the config file: {e.strerror or e}") from None
    import tomllib  # only when there is a file

    try:
        text = raw.decode("utf-8")
        doc = tomllib.loads(text)
    except UnicodeDecodeError as e:
        raise UsageError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{path}: not valid TOML: {e}") from None
    lines = _key_lines(text)
    settings = Settings(path, exists=True)
    for name, table in doc.items():
        if name == "defaults":
            settings.defaults = _table(path, lines, "defaults", table)
        elif name == "stores":
            if not isinstance(table, dict):
                raise _error(path, lines, "", "stores", "must be tables: [stores.NAME]")
            for store, body in table.items():
                settings.stores[store] = _table(path, lines, f"stores.{store}", body)
        else:
            raise _error(
                path,
                lines,
                "",
                name,
                "unknown table or key: the file holds [defaults] and [stores.NAME] tables",
            )
    return settings


def _table(path: Path, lines: dict[tuple[str, str], int], name: str, body: Any) -> dict[str, Value]:
    if not isinstance(body, dict):
        parent, _, key = name.rpartition(".")
        raise _error(path, lines, parent, key, f"must be a table: [{name}]")
    out: dict[str, Value] = {}
    for key, raw in body.items():
        if key not in KEYS:
            credential = any(w in key.lower() for w in ("secret", "access_key", "token", "pass"))
            hint = _CREDENTIAL_HINT if credential else "known keys: " + ", ".join(KEYS)
            raise _error(path, lines, name, key, f"unknown key ({hint})")
        try:
            value = _check(KEYS[key], raw)
        except (ValueError, UsageError) as e:
            raise _error(path, lines, name, key, f"{raw!r}: {e}") from None
        out[key] = Value(value, name, lines.get((name, key)))
    return out


def _check(kind: str, raw: Any) -> Any:
    """The value as the command line would give it, or ValueError/UsageError saying why not."""
    from s3tui.put_args import check_endpoint, check_region

    if kind == "count":
        if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= 64:
            raise ValueError("must be a whole number from 1 to 64")
        return raw
    if kind in ("chunk", "size", "rate"):
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            raise ValueError('write a size as a string, e.g. "16MiB", or a number of bytes')
        size = parse_size(str(raw))
        if kind == "chunk":
            from s3tui.engine.plan import validate_chunk_size

            validate_chunk_size(size)
        if kind == "rate" and size < 64 * 1024:
            raise ValueError('below 64KB per second: write e.g. "5MB"')
        return str(raw)
    if kind == "duration":
        from s3tui.durations import LONGEST_WAIT, parse_duration

        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise ValueError('write a duration as a string, e.g. "30m", or a number of seconds')
        parse_duration(str(raw), bare_seconds=True, longest=LONGEST_WAIT)
        return str(raw)
    if not isinstance(raw, str) or not raw:
        raise ValueError("must be a non-empty string")
    if kind in ("checksum", "checksum_type"):
        from s3tui.engine.checksums import CHOICES, FULL_OBJECT_TYPES

        allowed = CHOICES if kind == "checksum" else FULL_OBJECT_TYPES
        if raw not in allowed:
            raise ValueError("must be one of " + ", ".join(allowed))
        return raw
    if kind == "url":
        try:
            check_endpoint(raw)
        except UsageError as e:
            raise ValueError(str(e).removeprefix("--endpoint-url ")) from None
    elif kind == "region":
        check_region(raw)
    elif any(ord(ch) < 0x20 for ch in raw):
        raise ValueError("contains a control character")
    return raw


def _error(
    path: Path, lines: dict[tuple[str, str], int], table: str, key: str, problem: str
) -> UsageError:
    line = lines.get((table, key))
    where = f"{path} line {line}" if line else str(path)
    name = f"{table}.{key}" if table else key
    # A value is shown with its userinfo left out (an endpoint's user:password@).
    return UsageError(f"{where}: {name}: {without_userinfo(problem)}")


_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.-]+)\s*=""")


def _key_lines(text: str) -> dict[tuple[str, str], int]:
    """(table, key) -> 1-based line of each ``key = ...`` and each ``[table]`` header (under
    table "", key = the table's name). tomllib keeps no positions; this finds them for messages."""
    found: dict[tuple[str, str], int] = {}
    table = ""
    for n, line in enumerate(text.splitlines(), 1):
        if m := _HEADER.match(line):
            table = ".".join(part.strip().strip("\"'") for part in m.group(1).split("."))
            found.setdefault(("", table), n)
            found.setdefault(("", table.split(".")[0]), n)
        elif m := _KEY.match(line):
            key = m.group(1).strip("\"'")
            found.setdefault((table, key), n)
            if "." in key:  # a dotted key: stores.x.region = ... at the top
                head, _, last = key.rpartition(".")
                found.setdefault((f"{table}.{head}".strip("."), last), n)
            found.setdefault(("", key.split(".")[0]), n)
    return found


def apply(ns: argparse.Namespace) -> argparse.Namespace:
    """Fill the ``put`` options the command line left out (None) from the file: the store named
    by ``--store``, then ``[defaults]``. Records where each came from in ``ns.origins``."""
    settings = load()
    origins: dict[str, str] = {}
    for key, v in settings.effective(ns.store).items():
        if getattr(ns, key, None) is None:
            setattr(ns, key, v.value)
            origins[key] = _origin(settings.path, v)
    ns.origins = origins
    return ns


def _origin(path: Path, v: Value) -> str:
    return f"{path} line {v.line}, [{v.table}]" if v.line else f"{path}, [{v.table}]"


def _shown(key: str, value: Any) -> str:
    return without_userinfo(str(value)) if key == "endpoint_url" else str(value)


def run_config(ns: argparse.Namespace) -> int:
    """``s3tui config path`` and ``s3tui config show [--store NAME]``."""
    out = sys.stdout
    if ns.config_command == "path":
        print(config_path(), file=out)
        return 0
    settings = load()
    store = getattr(ns, "store", None)
    values = settings.effective(store)
    state = "" if settings.exists else " (not there: built-in defaults only)"
    print(f"# {settings.path}{state}", file=out)
    if store is not None:
        print(f"# store: {store}", file=out)
    width = max(len(k) for k in KEYS)
    for key in KEYS:
        if key in values:
            v = values[key]
            where = f"[{v.table}]" + (f" line {v.line}" if v.line else "")
            print(f"{key:<{width}} = {_shown(key, v.value)}  # {where}", file=out)
        else:
            print(f"{key:<{width}} = ({BUILT_IN[key]})  # built-in", file=out)
    stores = ", ".join(sorted(settings.stores)) or "none"
    print(f"# stores: {stores}", file=out)
    if store is None and settings.stores:
        print("# `s3tui config show --store NAME` shows one with the defaults under it", file=out)
    return 0
