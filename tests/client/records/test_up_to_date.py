"""The record an `embly build` leaves for the next identical one: read back only while every
path it names is as it was."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from embly_build.client.records.up_to_date import (
    encode_record,
    invocation_key,
    record_path,
    stat_key,
    unchanged_report,
)
from tests.conftest import REPO

REPORT = {"mode": "quiet", "functions": []}


def _write(home: Path, key: bytes, checks: list[tuple[str, object]]) -> Path:
    path = Path(record_path(key, str(home)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_record(key, checks, REPORT))  # type: ignore[arg-type]
    return path


@pytest.fixture
def key() -> bytes:
    return invocation_key(["build", "-q"], "/somewhere", {"EMBLY_HOME": "/h", "PATH": "/bin"})


def test_a_record_whose_paths_are_unchanged_gives_its_report(
    tmp_path: Path, embly_home: Path, key: bytes
) -> None:
    source = tmp_path / "main.rs"
    source.write_text("fn main() {}")
    absent = tmp_path / "not-there" / ".gitignore"
    _write(embly_home, key, [(str(source), stat_key(str(source))), (str(absent), None)])

    assert unchanged_report(key, str(embly_home)) == REPORT


@pytest.mark.parametrize(
    "change",
    ["rewrite", "chmod", "delete", "replace", "create the absent path"],
)
def test_any_change_to_a_recorded_path_voids_the_record(
    tmp_path: Path, embly_home: Path, key: bytes, change: str
) -> None:
    source = tmp_path / "main.rs"
    source.write_text("fn main() {}")
    absent = tmp_path / ".gitignore"
    _write(embly_home, key, [(str(source), stat_key(str(source))), (str(absent), None)])

    if change == "rewrite":
        # Same size, and the mtime put back: only the ctime tells.
        before = source.stat()
        source.write_text("fn main() {")
        source.write_text("fn main() {}")
        os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns))
    elif change == "chmod":
        source.chmod(0o755)
    elif change == "delete":
        source.unlink()
    elif change == "replace":
        replacement = tmp_path / "main.rs.new"
        replacement.write_text("fn main() {}")
        replacement.replace(source)
    else:
        absent.write_text("*.tmp\n")

    assert unchanged_report(key, str(embly_home)) is None


def test_another_invocation_finds_no_record(tmp_path: Path, embly_home: Path, key: bytes) -> None:
    _write(embly_home, key, [])
    assert unchanged_report(key, str(embly_home)) == REPORT

    for argv, cwd, env in [
        (["build", "greeter", "-q"], "/somewhere", {"EMBLY_HOME": "/h", "PATH": "/bin"}),
        (["build", "-q"], "/elsewhere", {"EMBLY_HOME": "/h", "PATH": "/bin"}),
        (["build", "-q"], "/somewhere", {"EMBLY_HOME": "/h", "PATH": "/usr/bin:/bin"}),
        (["build", "-q"], "/somewhere", {"EMBLY_HOME": "/h", "PATH": "/bin", "EMBLY_X": "1"}),
    ]:
        assert unchanged_report(invocation_key(argv, cwd, env), str(embly_home)) is None
    # Variables that cannot change a build do not matter.
    same = invocation_key(
        ["build", "-q"], "/somewhere", {"EMBLY_HOME": "/h", "PATH": "/bin", "COLUMNS": "80"}
    )
    assert unchanged_report(same, str(embly_home)) == REPORT


@pytest.mark.parametrize(
    "damage", [b"", b"not marshal data", b"\xe9\x00\x00\x00garbage", "truncated"]
)
def test_a_damaged_record_is_no_record(embly_home: Path, key: bytes, damage: bytes | str) -> None:
    path = _write(embly_home, key, [])
    path.write_bytes(path.read_bytes()[:-3] if damage == "truncated" else damage)  # type: ignore[arg-type]

    assert unchanged_report(key, str(embly_home)) is None


def test_a_path_that_cannot_be_looked_at_voids_the_record(
    tmp_path: Path, embly_home: Path, key: bytes
) -> None:
    if os.geteuid() == 0:
        # root looks through any permission; a path too long to stat fails for everyone.
        unreadable = str(tmp_path / ("x" * 5000))
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o000)
        unreadable = str(locked / "main.rs")
    _write(embly_home, key, [(unreadable, None)])

    assert unchanged_report(key, str(embly_home)) is None


def test_the_check_imports_nothing_heavy() -> None:
    """It runs before anything else in every `embly build`: typing, json or pathlib alone
    would take longer than the whole check."""
    script = (
        "import sys\n"
        "from embly_build.cli.commands.up_to_date_report import report_if_up_to_date\n"
        "report_if_up_to_date(['build', '-q'])\n"
        "heavy = ('typing', 'json', 're', 'pathlib', 'asyncio',\n"
        "         'embly_build.client.session.client')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
    )
    # -S: what site-packages' .pth files import is not the check's doing.
    result = subprocess.run(
        [sys.executable, "-S", "-c", script],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "[]"


def test_a_record_depends_on_the_installed_wasmtime_without_importing_it() -> None:
    """An upgrade of wasmtime changes the .cwasm files, so it voids every record; a build
    that compiled nothing (all cache hits) should not pay for importing it to say so."""
    script = (
        "import sys\n"
        "from embly_build.client.records.up_to_date_record import code_paths\n"
        "paths = code_paths()\n"
        "imported = 'wasmtime' in sys.modules\n"
        "import wasmtime\n"
        "print(imported, paths[-1].samefile(wasmtime.__file__))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "True"]
