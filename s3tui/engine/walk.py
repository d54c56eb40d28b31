"""Which local files a ``put`` of files and directories uploads, and under which keys.

Pure logic over the file system, no S3: the CLI's ``--dry-run`` and :class:`TreeUpload` use the
same listing, so a dry run shows exactly what a real run would send.

Rules (also in ``s3tui put --help``):

* **Keys.** A DEST ending in ``/`` (or an empty key, ``s3://bucket``) is a prefix. A single file
  to a DEST not ending in ``/`` is stored under exactly that key. Otherwise (a directory, or
  several sources) DEST is a prefix and a ``/`` is added when missing, as ``aws s3 cp
  --recursive`` does. A directory's *contents* go under the prefix (``put ./photos s3://b/p/``
  stores ``photos/a.jpg`` as ``p/a.jpg``); a file source is stored under its name. Path parts are
  joined with ``/``. Two files that would land on the same key are an error before any upload.
* **Filters.** ``--include``/``--exclude`` take fnmatch-style globs (``*``, ``?``, ``[...]``;
  case-sensitive; ``*`` also matches ``/``) matched against the path relative to the source
  directory (a file source: its name). A glob without ``/`` also matches the last path part alone,
  so ``--exclude .git`` or ``--exclude '*.tmp'`` work at any depth. A file is uploaded when it
  matches an include (or none is given) and no exclude; an excluded directory is not entered.
* **Hidden files** are included unless excluded.
* **Symbolic links** inside a directory are skipped (one warning) unless ``--follow-symlinks``;
  links named on the command line are always followed, like ``cp -H``. When following, a link to
  a directory that is already being walked above it (a loop) is skipped with a warning.
* **Special files** (fifos, sockets, devices) are skipped with a warning: they have no size.
* Files whose name is not valid UTF-8, or whose key would pass S3's 1,024-byte limit, fail
  (reported per file) instead of being silently renamed.
"""

from __future__ import annotations

import fnmatch
import mimetypes
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

MAX_KEY_BYTES = 1024
_SYMLINKS_NAMED = 5  # how many skipped symlinks the warning names
_BY_ENCODING = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
}


@dataclass(frozen=True, slots=True)
class Entry:
    """One regular file to upload, as seen when it was listed."""

    path: str  # as the user would write it: the source joined with the relative path
    rel: str  # relative to its source directory, '/'-separated (a file source: its name)
    key: str
    size: int
    mtime_ns: int


@dataclass
class Listing:
    entries: list[Entry] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (path, why skipped)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (path, why it failed)

    @property
    def total_size(self) -> int:
        return sum(e.size for e in self.entries)


class SourceError(ValueError):
    """A source or destination the user must fix (a usage error in the CLI)."""


# --------------------------------------------------------------------------------------------
# Filters
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Filter:
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    @staticmethod
    def _match(rel: str, pattern: str) -> bool:
        if fnmatch.fnmatchcase(rel, pattern):
            return True
        return "/" not in pattern and fnmatch.fnmatchcase(rel.rsplit("/", 1)[-1], pattern)

    def wants(self, rel: str) -> bool:
        """Whether a file at ``rel`` is uploaded."""
        if self.include and not any(self._match(rel, p) for p in self.include):
            return False
        return not any(self._match(rel, p) for p in self.exclude)

    def prunes(self, rel: str) -> bool:
        """Whether a directory at ``rel`` is skipped whole (only excludes prune: an include may
        match files deep inside a directory whose own name it does not match)."""
        return any(self._match(rel, p) for p in self.exclude)


# --------------------------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------------------------
def exact_key(dest_key: str, sources: Sequence[str]) -> str | None:
    """The one key a single file goes to, or None when DEST is a prefix."""
    if len(sources) == 1 and dest_key and not dest_key.endswith("/"):
        try:
            if stat.S_ISREG(os.stat(sources[0]).st_mode):
                return dest_key
        except OSError:
            return None
    return None


def prefix_of(dest_key: str) -> str:
    """DEST as a prefix: empty, or ending in exactly the '/' the user wrote (or one added)."""
    return dest_key if not dest_key or dest_key.endswith("/") else dest_key + "/"


def key_problem(key: str) -> str | None:
    """Why S3 cannot take ``key`` (None when it can)."""
    try:
        n = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        return "file name is not valid UTF-8: rename it to upload it"
    if n > MAX_KEY_BYTES:
        return f"key is {n} bytes, over S3's {MAX_KEY_BYTES}-byte limit"
    if not key:
        return "empty key"
    return None


def guess_content_type(name: str) -> str:
    """Content-Type from the extension; compressed files get the compression's type, since a
    browser would otherwise unpack ``x.tar.gz`` served as ``application/x-tar``."""
    ctype, encoding = mimetypes.guess_type(name, strict=False)
    if encoding:
        return _BY_ENCODING.get(encoding, "application/octet-stream")
    return ctype or "application/octet-stream"


# --------------------------------------------------------------------------------------------
# The walk
# --------------------------------------------------------------------------------------------
def check_sources(sources: Iterable[str]) -> None:
    """Every source must exist and be a file or a directory; raises SourceError otherwise."""
    for src in sources:
        try:
            st = os.stat(src)
        except FileNotFoundError:
            raise SourceError(f"source {src!r} does not exist") from None
        except OSError as e:
            raise SourceError(f"cannot read source {src!r}: {e.strerror}") from None
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
            raise SourceError(
                f"source {src!r} is not a regular file or directory (a pipe or device?): "
                f"stream it with `s3tui put - DEST < {src}`"
            )


def scan(
    sources: Sequence[str],
    dest_key: str,
    filt: Filter | None = None,
    follow_symlinks: bool = False,
) -> Listing:
    """List what ``put SOURCES DEST`` uploads. Raises SourceError for a key collision."""
    filt = filt or Filter()
    out = Listing()
    skipped_links: list[str] = []
    single = exact_key(dest_key, sources)
    prefix = prefix_of(dest_key)
    for src in sources:
        try:
            st = os.stat(src)
        except OSError as e:
            out.failures.append((src, f"cannot read: {e.strerror}"))
            continue
        if stat.S_ISDIR(st.st_mode):
            _walk(src, prefix, st, filt, follow_symlinks, out, skipped_links)
        elif stat.S_ISREG(st.st_mode):
            name = os.path.basename(os.path.normpath(src))
            if filt.wants(name):
                _add(out, src, name, single or prefix + name, st)
        else:
            out.warnings.append((src, "not a regular file or directory: skipped"))
    if skipped_links:
        shown = ", ".join(skipped_links[:_SYMLINKS_NAMED])
        more = len(skipped_links) - _SYMLINKS_NAMED
        out.warnings.append(
            (
                f"{len(skipped_links)} symlink{'s' if len(skipped_links) != 1 else ''}",
                f"not followed (pass --follow-symlinks to follow them): {shown}"
                + (f" and {more} more" if more > 0 else ""),
            )
        )
    _check_collisions(out.entries)
    return out


def _add(out: Listing, path: str, rel: str, key: str, st: os.stat_result) -> None:
    problem = key_problem(key)
    if problem:
        out.failures.append((path, problem))
    else:
        out.entries.append(Entry(path, rel, key, st.st_size, st.st_mtime_ns))


def _walk(
    root: str,
    prefix: str,
    root_st: os.stat_result,
    filt: Filter,
    follow: bool,
    out: Listing,
    skipped_links: list[str],
) -> None:
    """Depth-first, names sorted (a stable order for logs and tests), iterative (no recursion
    limit), holding only the directories still to visit besides the result."""
    stack: list[tuple[str, str, frozenset[tuple[int, int]]]] = [
        (root, "", frozenset({(root_st.st_dev, root_st.st_ino)}))
    ]
    while stack:
        dpath, drel, ancestors = stack.pop()
        try:
            with os.scandir(dpath) as it:
                items = sorted(it, key=lambda d: d.name)
        except OSError as e:
            out.failures.append((dpath, f"cannot list directory: {e.strerror}"))
            continue
        subdirs = []
        for de in items:
            rel = f"{drel}/{de.name}" if drel else de.name
            path = os.path.join(dpath, de.name)
            try:
                link = de.is_symlink()
                if link and not follow:
                    skipped_links.append(path)
                    continue
                st = os.stat(path) if link else de.stat(follow_symlinks=False)
            except FileNotFoundError:
                why = "broken symlink: skipped" if de.is_symlink() else "vanished while listed"
                out.warnings.append((path, why))
                continue
            except OSError as e:
                out.failures.append((path, f"cannot read: {e.strerror}"))
                continue
            mode = st.st_mode
            if stat.S_ISDIR(mode):
                if filt.prunes(rel):
                    continue
                ident = (st.st_dev, st.st_ino)
                if ident in ancestors:
                    out.warnings.append((path, "symlink loop (links to a parent): not followed"))
                    continue
                subdirs.append((path, rel, ancestors | {ident}))
            elif stat.S_ISREG(mode):
                if filt.wants(rel):
                    _add(out, path, rel, prefix + rel, st)
            else:
                out.warnings.append((path, f"{_kind(mode)} is not a regular file: skipped"))
        stack.extend(reversed(subdirs))


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "special file"


def _check_collisions(entries: list[Entry]) -> None:
    seen: dict[str, str] = {}
    for e in entries:
        if e.key not in seen:
            seen[e.key] = e.path
            continue
        other = seen[e.key]
        if other == e.path:
            raise SourceError(f"{e.path!r} is named twice")
        raise SourceError(
            f"{other!r} and {e.path!r} would both be stored as key {e.key!r}: "
            "upload them separately or rename one"
        )
