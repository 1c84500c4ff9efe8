"""The kernel's inotify events, read through `embly_build.client.watch.inotify`."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from embly_build.client.watch import inotify
from embly_build.client.watch.inotify import EventsLost, Inotify
from tests.helpers import inotify_limit_lowered

pytestmark = pytest.mark.skipif(not inotify.available(), reason="inotify is Linux's")


def test_events_name_the_files_created_written_renamed_and_deleted(tmp_path: Path) -> None:
    (tmp_path / "kept.rs").write_text("old")
    with closing(Inotify()) as watches:
        assert watches.add_directory(tmp_path)
        assert watches.read_paths() == [], "nothing happened yet"
        (tmp_path / "new.rs").write_text("new")
        (tmp_path / "kept.rs").write_text("changed")
        (tmp_path / "new.rs").rename(tmp_path / "moved.rs")
        (tmp_path / "moved.rs").unlink()
        seen = set(watches.read_paths())
        assert seen == {tmp_path / name for name in ("new.rs", "kept.rs", "moved.rs")}
        assert watches.read_paths() == [], "each event is read once"


def test_only_the_watched_directory_s_own_entries_are_reported(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    with closing(Inotify()) as watches:
        watches.add_directory(tmp_path)
        (tmp_path / "sub" / "deep.rs").write_text("x")
        assert watches.read_paths() == [], "not recursive: sub/ has no watch of its own"
        (tmp_path / "sub" / "deep.rs").unlink()
        (tmp_path / "sub").rmdir()
        assert watches.read_paths() == [tmp_path / "sub"]


def test_a_watched_directory_removed_is_named_itself(tmp_path: Path) -> None:
    crate = tmp_path / "crate"
    crate.mkdir()
    with closing(Inotify()) as watches:
        watches.add_directory(crate)
        crate.rmdir()
        assert set(watches.read_paths()) == {crate}


def test_a_directory_that_is_gone_or_a_file_is_not_watched(tmp_path: Path) -> None:
    (tmp_path / "file.rs").write_text("x")
    with closing(Inotify()) as watches:
        assert not watches.add_directory(tmp_path / "missing")
        assert not watches.add_directory(tmp_path / "file.rs")


def test_a_directory_that_cannot_be_read_is_not_watched() -> None:
    """Checked by an unprivileged user (a child process that became nobody, when the tests
    run as root, who can read everything), in a directory anyone can search."""
    shared = Path(tempfile.mkdtemp(prefix="embly-test-"))
    try:
        shared.chmod(0o755)
        (shared / "open").mkdir()
        (shared / "locked").mkdir(mode=0o000)
        answers = _watched_by_an_unprivileged_user([shared / "open", shared / "locked"])
    finally:
        shutil.rmtree(shared)
    assert answers == [True, False]


def _watched_by_an_unprivileged_user(directories: list[Path]) -> list[bool]:
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child)
        code = 1
        try:
            os.close(read_end)
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            with closing(Inotify()) as watches:
                answers = [watches.add_directory(d) for d in directories]
            os.write(write_end, repr(answers).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as answer:
        answers = answer.read()
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return [word == "True" for word in answers.strip("[]").split(", ")]


def test_a_name_that_is_not_utf8_is_delivered(tmp_path: Path) -> None:
    name = os.fsdecode(b"notes-\xff.txt")
    with closing(Inotify()) as watches:
        watches.add_directory(tmp_path)
        (tmp_path / name).write_text("x")
        assert set(watches.read_paths()) == {tmp_path / name}


@pytest.fixture
def tiny_event_queue() -> Iterator[None]:
    """The kernel's real queue limit, lowered for inotify instances made meanwhile."""
    with inotify_limit_lowered("max_queued_events", 4):
        yield


def test_an_overflowed_queue_is_reported_not_skipped(
    tmp_path: Path, tiny_event_queue: None
) -> None:
    with closing(Inotify()) as watches:
        watches.add_directory(tmp_path)
        for n in range(10):
            (tmp_path / f"file{n}.rs").write_text("x")
        with pytest.raises(EventsLost):
            watches.read_paths()


def test_the_descriptor_is_closed(tmp_path: Path) -> None:
    watches = Inotify()
    descriptor = watches.fileno()
    watches.close()
    with pytest.raises(OSError):
        os.fstat(descriptor)
    watches.close()  # twice is harmless
