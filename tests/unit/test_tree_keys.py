"""Which files a tree upload takes and the keys they get: pure logic over a temp dir, no S3."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from s3tui.engine.walk import (
    Filter,
    SourceError,
    check_sources,
    exact_key,
    guess_content_type,
    key_problem,
    prefix_of,
    scan,
)


def _tree(root: Path, files: dict[str, bytes | str]) -> Path:
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data.encode() if isinstance(data, str) else data)
    return root


def _keys(sources: list[str], dest: str, **kw: object) -> list[str]:
    return [e.key for e in scan(sources, dest, **kw).entries]  # type: ignore[arg-type]


# --- keys ---
def test_directory_contents_go_under_the_prefix_joined_with_slashes(tmp_path: Path) -> None:
    d = _tree(tmp_path / "photos", {"a.jpg": "1", "2026/b.jpg": "22", "2026/x/c.jpg": "333"})
    listing = scan([str(d)], "media/2026/")
    assert [(e.key, e.rel, e.size) for e in listing.entries] == [
        ("media/2026/a.jpg", "a.jpg", 1),
        ("media/2026/2026/b.jpg", "2026/b.jpg", 2),
        ("media/2026/2026/x/c.jpg", "2026/x/c.jpg", 3),
    ]
    assert listing.entries[1].path == os.path.join(str(d), "2026", "b.jpg")
    assert listing.total_size == 6


def test_dest_without_slash_is_a_prefix_for_dirs_and_several_files(tmp_path: Path) -> None:
    d = _tree(tmp_path / "d", {"a": "x"})
    f1, f2 = _tree(tmp_path, {"a.iso": "1", "b.iso": "2"}) / "a.iso", tmp_path / "b.iso"
    assert _keys([str(d)], "p") == ["p/a"]
    assert _keys([str(f1), str(f2)], "isos") == ["isos/a.iso", "isos/b.iso"]
    assert _keys([str(f1), str(f2)], "isos/") == ["isos/a.iso", "isos/b.iso"]
    assert _keys([str(d)], "") == ["a"]  # s3://bucket: the bucket's root


def test_one_file_goes_to_the_exact_key_unless_dest_is_a_prefix(tmp_path: Path) -> None:
    f = _tree(tmp_path, {"big.iso": "x"}) / "big.iso"
    assert _keys([str(f)], "isos/renamed.iso") == ["isos/renamed.iso"]
    assert _keys([str(f)], "isos/") == ["isos/big.iso"]
    assert _keys([str(f)], "") == ["big.iso"]
    assert exact_key("k", [str(f)]) == "k"
    assert exact_key("k", [str(tmp_path)]) is None
    assert prefix_of("a") == "a/" and prefix_of("a/") == "a/" and prefix_of("") == ""


def test_two_files_on_one_key_are_refused(tmp_path: Path) -> None:
    a = _tree(tmp_path / "a", {"x.txt": "1"})
    b = _tree(tmp_path / "b", {"x.txt": "2"})
    with pytest.raises(SourceError, match=r"both be stored as key 'p/x\.txt'"):
        scan([str(a), str(b)], "p/")
    with pytest.raises(SourceError, match="named twice"):
        scan([str(a / "x.txt"), str(a / "x.txt")], "p/")


def test_key_problems() -> None:
    assert key_problem("a/b") is None
    assert key_problem("ünï/名前.txt") is None
    assert "UTF-8" in (key_problem("bad\udcff") or "")
    assert "1024" in (key_problem("k" * 1025) or "")


def test_undecodable_file_name_fails_that_file_only(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "ok.txt").write_text("x")
    with open(os.path.join(os.fsencode(d), b"bad-\xff.txt"), "wb") as fh:
        fh.write(b"y")
    listing = scan([str(d)], "p/")
    assert [e.key for e in listing.entries] == ["p/ok.txt"]
    assert len(listing.failures) == 1 and "UTF-8" in listing.failures[0][1]


# --- filters ---
@pytest.mark.parametrize(
    ("rel", "include", "exclude", "wanted"),
    [
        ("a.txt", (), (), True),
        ("deep/er/a.txt", ("*.txt",), (), True),  # '*' crosses '/'
        ("deep/er/a.txt", ("a.txt",), (), True),  # no '/': matches the name at any depth
        ("deep/er/a.txt", ("er/*",), (), False),  # with '/': the whole relative path
        ("deep/er/a.txt", ("deep/*",), (), True),
        ("a.tmp", (), ("*.tmp",), False),
        ("x/a.TMP", (), ("*.tmp",), True),  # case-sensitive
        ("a.txt", ("*.txt",), ("a.*",), False),  # exclude wins
        ("b.jpg", ("*.txt", "*.jpg"), (), True),  # includes are OR-ed
        ("img?.png", (), ("img[?].png",), False),
    ],
)
def test_filter_rules(
    rel: str, include: tuple[str, ...], exclude: tuple[str, ...], wanted: bool
) -> None:
    assert Filter(include, exclude).wants(rel) is wanted


def test_exclude_prunes_directories_include_does_not(tmp_path: Path) -> None:
    d = _tree(
        tmp_path / "d",
        {
            ".git/config": "c",
            "src/.git/HEAD": "h",
            "src/main.py": "m",
            "src/notes.txt": "n",
            ".env": "e",
            "build/out.o": "o",
        },
    )
    assert _keys([str(d)], "", filt=Filter(exclude=(".git", "build"))) == [
        ".env",  # hidden files are included unless excluded
        "src/main.py",
        "src/notes.txt",
    ]
    assert _keys([str(d)], "", filt=Filter(include=("*.py",))) == ["src/main.py"]
    assert _keys([str(d)], "", filt=Filter(exclude=(".*",))) == [
        "build/out.o",
        "src/main.py",
        "src/notes.txt",
    ]


def test_filters_apply_to_file_sources_by_name(tmp_path: Path) -> None:
    _tree(tmp_path, {"a.iso": "1", "b.txt": "2"})
    srcs = [str(tmp_path / "a.iso"), str(tmp_path / "b.txt")]
    assert _keys(srcs, "p/", filt=Filter(exclude=("*.txt",))) == ["p/a.iso"]


# --- links and special files ---
def test_symlinks_skipped_by_default_with_one_warning(tmp_path: Path) -> None:
    d = _tree(tmp_path / "d", {"real.txt": "r", "sub/x.txt": "x"})
    (d / "link.txt").symlink_to("real.txt")
    (d / "linkdir").symlink_to("sub")
    listing = scan([str(d)], "")
    assert [e.key for e in listing.entries] == ["real.txt", "sub/x.txt"]
    ((what, why),) = listing.warnings
    assert what == "2 symlinks" and "--follow-symlinks" in why and "link.txt" in why


def test_follow_symlinks_guards_against_loops(tmp_path: Path) -> None:
    d = _tree(tmp_path / "d", {"real.txt": "r", "sub/x.txt": "x"})
    (d / "link.txt").symlink_to("real.txt")
    (d / "linkdir").symlink_to("sub")
    (d / "sub" / "loop").symlink_to("..")
    (d / "broken").symlink_to("nowhere")
    listing = scan([str(d)], "", follow_symlinks=True)
    assert [e.key for e in listing.entries] == [
        "link.txt",
        "real.txt",
        "linkdir/x.txt",
        "sub/x.txt",
    ]
    reasons = dict(listing.warnings)
    assert "loop" in reasons[str(d / "sub" / "loop")]
    assert "broken symlink" in reasons[str(d / "broken")]


def test_a_symlink_named_on_the_command_line_is_followed(tmp_path: Path) -> None:
    _tree(tmp_path, {"real.iso": "r"})
    (tmp_path / "alias.iso").symlink_to("real.iso")
    assert _keys([str(tmp_path / "alias.iso")], "isos/") == ["isos/alias.iso"]


def test_fifos_are_skipped_with_a_warning(tmp_path: Path) -> None:
    d = _tree(tmp_path / "d", {"a": "1"})
    os.mkfifo(d / "pipe")
    listing = scan([str(d)], "")
    assert [e.key for e in listing.entries] == ["a"]
    assert listing.warnings == [(str(d / "pipe"), "fifo is not a regular file: skipped")]


def test_check_sources(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    check_sources([str(tmp_path)])
    with pytest.raises(SourceError, match="does not exist"):
        check_sources([str(tmp_path / "nope")])
    with pytest.raises(SourceError, match="not a regular file or directory"):
        check_sources([str(tmp_path / "pipe")])


def test_content_type_guess() -> None:
    assert guess_content_type("a/b.txt") == "text/plain"
    assert guess_content_type("x.json") == "application/json"
    assert guess_content_type("dump.tar.gz") == "application/gzip"
    assert guess_content_type("no-extension") == "application/octet-stream"
    assert guess_content_type("weird.zzzz") == "application/octet-stream"
