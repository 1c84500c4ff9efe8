"""The hint a failed build gets when the disk of the build spaces is nearly full: of bytes,
or of inodes (room for files), on real tmpfs mounts."""

from __future__ import annotations

from pathlib import Path

from embly_build.server.build.low_disk import LOW_DISK_FILES, low_disk_hint
from tests.helpers import fill_inodes, small_disk


def test_a_disk_with_little_space_left_gets_a_hint(tmp_path: Path) -> None:
    with small_disk(tmp_path / "small", "4m") as small:
        hint = low_disk_hint(small)
    assert hint is not None
    assert f"the disk holding {small} has only" in hint
    assert "free disk space there or run `embly gc --max-size SIZE`" in hint


def test_a_disk_with_room_for_few_more_files_gets_a_hint(tmp_path: Path) -> None:
    """Bytes to spare, but no inodes: every file create fails with ENOSPC all the same."""
    with small_disk(tmp_path / "few-files", "1g", inodes=LOW_DISK_FILES // 2) as disk:
        assert low_disk_hint(disk) is not None  # fewer inodes than the limit from the start
        fill_inodes(disk)
        hint = low_disk_hint(disk)
    assert hint is not None
    assert f"the disk holding {disk} has room for only 0 more files (inodes)" in hint


def test_a_roomy_disk_gets_no_hint(tmp_path: Path) -> None:
    with small_disk(tmp_path / "roomy", "1g", inodes=LOW_DISK_FILES * 4) as disk:
        assert low_disk_hint(disk) is None
