"""The local artifact store (shared.artifacts): round trips, atomic writes, safe keys."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from shared.artifacts import BadKey, LocalArtifactStore, check_key

SIZE = 5 * 1024 * 1024


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture
def store(tmp_path) -> LocalArtifactStore:
    return LocalArtifactStore(tmp_path / "artifacts")


def test_put_then_get_returns_the_bytes(store):
    store.put("feeds/region/内蒙.rss", b"<rss/>")
    assert store.get("feeds/region/内蒙.rss") == b"<rss/>"


def test_put_writes_under_the_root_with_the_key_as_path(store):
    store.put("feeds/region/内蒙.rss", b"<rss/>")
    assert (store.root / "feeds" / "region" / "内蒙.rss").read_bytes() == b"<rss/>"


def test_put_replaces_previous_bytes(store):
    store.put("pages/a.html", b"old")
    store.put("pages/a.html", b"new")
    assert store.get("pages/a.html") == b"new"


def test_info_reports_size_and_mtime(store):
    before = time.time()
    store.put("feeds/all.json", b"12345")
    info = store.info("feeds/all.json")
    assert info is not None
    assert info.size == 5
    assert before - 2 <= info.mtime <= time.time() + 2


def test_delete_removes_the_artifact(store):
    store.put("feeds/all.atom", b"x")
    store.delete("feeds/all.atom")
    assert store.get("feeds/all.atom") is None
    assert store.info("feeds/all.atom") is None


def test_delete_of_missing_key_is_a_no_op(store):
    store.delete("feeds/never-written.rss")
    assert store.get("feeds/never-written.rss") is None


def test_get_and_info_of_missing_key_are_none(store):
    assert store.get("nothing/here") is None
    assert store.info("nothing/here") is None


def test_get_of_a_directory_key_is_none(store):
    store.put("feeds/region/内蒙.rss", b"x")
    assert store.get("feeds/region") is None


def test_put_leaves_no_temporary_files(store):
    for n in range(3):
        store.put("feeds/all.rss", b"v%d" % n)
        store.put(f"pages/articles/{n}.html", b"page")
    assert files_under(store.root) == [
        "feeds/all.rss",
        "pages/articles/0.html",
        "pages/articles/1.html",
        "pages/articles/2.html",
    ]


def test_failed_put_leaves_no_temporary_file(store):
    store.put("feeds/x/inner", b"makes feeds/x a directory")
    with pytest.raises(OSError):
        store.put("feeds/x", b"cannot replace a directory")
    assert files_under(store.root) == ["feeds/x/inner"]


def test_concurrent_reader_never_sees_partial_bytes(store):
    key = "feeds/all.rss"
    versions = [bytes([65 + n]) * SIZE for n in range(4)]  # 5 MB of A, of B, ...
    store.put(key, versions[0])
    done = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for n in range(12):
                store.put(key, versions[n % len(versions)])
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    reads = 0
    bad: list[tuple[int, bytes]] = []
    while not done.is_set() or reads < 5:
        data = store.get(key)
        reads += 1
        if data not in versions:
            bad.append((len(data or b""), (data or b"")[:1] + (data or b"")[-1:]))
    thread.join(timeout=30)
    assert not errors
    assert not bad, f"{len(bad)} of {reads} reads saw a partial or mixed file: {bad[:3]}"
    assert files_under(store.root) == [key]


@pytest.mark.parametrize(
    "key",
    [
        "",
        "../x",
        "a/../../x",
        "a/..",
        "..",
        ".",
        "/abs",
        "/etc/passwd",
        "a//b",
        "a/./b",
        "./a",
        "a/",
        "a\\b",
        "..\\x",
        "a\x00b",
    ],
)
def test_check_key_refuses_unsafe_keys(key):
    with pytest.raises(BadKey):
        check_key(key)


@pytest.mark.parametrize(
    "key", ["feeds/all.rss", "feeds/region/内蒙.rss", "sources/ab/" + "ab" * 32, "a..b/c.d"]
)
def test_check_key_accepts_relative_keys(key):
    assert check_key(key) == key


def test_store_refuses_bad_key_and_writes_nothing(store, tmp_path):
    with pytest.raises(BadKey):
        store.put("../escaped", b"x")
    assert not (tmp_path / "escaped").exists()
    assert not store.root.exists() or files_under(store.root) == []


def test_check_key_accepts_a_name_of_255_bytes():
    key = "feeds/" + "区" * 85  # 255 bytes
    assert check_key(key) == key


def test_check_key_refuses_a_name_longer_than_a_file_name():
    with pytest.raises(BadKey):
        check_key("feeds/" + "a" * 256)


def test_check_key_refuses_a_lone_surrogate():
    with pytest.raises(BadKey):
        check_key("feeds/\ud800.rss")


def test_reading_a_too_long_key_is_bad_key_not_an_os_error(store):
    # A request path names the key; the readers turn BadKey into a 404.
    with pytest.raises(BadKey):
        store.info("pages/region/" + "区" * 100 + ".html")
