"""The s3_uploader command line, unchanged: its Go-style flags as ``put``'s options.

s3_uploader (the stream seed) is run from cron as ``... | s3_uploader -bucket B -key K
-chunk_size 16777216 -expected_size N -mime_type T -acl private -sse AES256 -region R``. Go's
flag package takes one or two dashes and ``-flag=value``; the names have underscores. So that
such a line works by renaming the command (``s3tui`` or ``s3tui put -``), :func:`translate`
rewrites those spellings to s3tui's before argparse sees them. Only the seed's eight flags are
rewritten, only in their seed spellings, and only before a ``--``.

What the seed's values meant is kept where s3tui differs: ``-sse`` is a boolean there
(``-sse``, ``-sse=true``: AES256; ``-sse=false``: none), and ``-expected_size 0`` meant "no
expectation" (s3tui would take it as "the stream is empty").
"""

from __future__ import annotations

# The seed's flag -> s3tui's option.
SEED_FLAGS = {
    "bucket": "--bucket",
    "key": "--key",
    "chunk_size": "--chunk-size",
    "expected_size": "--expected-size",
    "mime_type": "--mime-type",
    "acl": "--acl",
    "sse": "--sse",
    "region": "--region",
}
_TRUE = ("true", "t", "1")
_FALSE = ("false", "f", "0")
_SUBCOMMANDS = ("put", "cleanup", "ps", "watch", "config", "demo", "verify", "uploads")


def _seed_name(token: str) -> tuple[str, str | None] | None:
    """(seed flag, inline value) for ``-flag``, ``--flag``, ``-flag=v``, ``--flag=v``."""
    if not token.startswith("-") or token in ("-", "--"):
        return None
    body = token[2:] if token.startswith("--") else token[1:]
    name, eq, value = body.partition("=")
    if name not in SEED_FLAGS:
        return None
    if token.startswith("--") and "_" not in name and name not in ("sse",):
        return None  # s3tui's own spelling (--bucket, --key, --acl, --region): left as is
    return name, value if eq else None


def _starts_seed_line(argv: list[str]) -> bool:
    """No subcommand, and the first word is one of the seed's flags in any spelling."""
    if not argv or argv[0] in _SUBCOMMANDS or not argv[0].startswith("-"):
        return False
    name = argv[0].lstrip("-").partition("=")[0].replace("-", "_")
    return name in SEED_FLAGS


def translate(argv: list[str]) -> list[str]:
    """argv with the seed's spellings turned into s3tui's; ``s3tui -bucket B -key K ...`` (no
    subcommand, as the seed is called) becomes ``s3tui put - --bucket B --key K ...``."""
    if _starts_seed_line(argv):
        argv = ["put", "-", *argv]
    if not argv or argv[0] != "put":
        return list(argv)
    out: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        i += 1
        if token == "--":
            out += argv[i - 1 :]
            break
        seed = _seed_name(token)
        if seed is None:
            out.append(token)
            continue
        name, value = seed
        if name == "sse":
            if value is None and i < len(argv) and not argv[i].startswith("-"):
                value = argv[i]
                i += 1
            value = "AES256" if value is None or value.lower() in _TRUE else value
            if value.lower() not in _FALSE:
                out += ["--sse", value]
            continue
        if value is None:
            if i >= len(argv):
                out.append(SEED_FLAGS[name])  # argparse says the value is missing
                continue
            value = argv[i]
            i += 1
        if name == "expected_size" and value.strip() == "0":
            continue  # the seed's "no expectation"
        out += [SEED_FLAGS[name], value]
    return out
