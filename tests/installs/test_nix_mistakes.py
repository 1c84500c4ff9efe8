"""What a user sees when their Nix or EMBLY_HOME cannot be used: one clear error naming what
to do, exit 2, never a traceback."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.installs.conftest import (
    InstalledWheel,
    NonRootUser,
    isolated_environment,
    nix_settings,
    run_as,
)

pytestmark = pytest.mark.slow


def _provision(
    embly: Path, env: dict[str, str], cwd: Path, user: NonRootUser | None = None
) -> subprocess.CompletedProcess[str]:
    return run_as([str(embly), "toolchains", "--provision"], cwd=cwd, env=env, user=user)


def _user_home_dir(user: NonRootUser, name: str) -> Path:
    directory = user.home / name
    directory.mkdir()
    os.chown(directory, user.uid, user.gid)
    return directory


def test_no_daemon_running_says_to_start_it(
    installed_wheel: InstalledWheel, non_root_user: NonRootUser, tmp_path: Path
) -> None:
    work = _user_home_dir(non_root_user, "no-daemon")
    env = isolated_environment(
        **nix_settings(tmp_path / "nix-conf", ""),
        NIX_REMOTE="daemon",
        NIX_DAEMON_SOCKET_PATH=str(work / "no-daemon-here.socket"),
        EMBLY_HOME=str(work / "embly-home"),
    )
    result = _provision(installed_wheel.embly, env, work, non_root_user)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "the Nix daemon is not running: start it" in result.stderr
    assert result.stderr.count("cannot connect to socket") == 1, "Nix's line said once"
    assert "/tmp/" not in result.stderr.split("failed:")[0], "no temporary path named"


def test_a_user_without_a_daemon_is_told_the_store_is_roots(
    installed_wheel: InstalledWheel, non_root_user: NonRootUser, tmp_path: Path
) -> None:
    work = _user_home_dir(non_root_user, "no-remote")
    env = isolated_environment(
        **nix_settings(tmp_path / "nix-conf", ""), EMBLY_HOME=str(work / "embly-home")
    )
    result = _provision(installed_wheel.embly, env, work, non_root_user)
    assert result.returncode == 2, result.stderr
    assert "the Nix store belongs to root and no daemon is used" in result.stderr


def test_an_embly_home_the_user_cannot_write_is_an_error_not_a_traceback(
    installed_wheel: InstalledWheel, non_root_user: NonRootUser, tmp_path: Path
) -> None:
    work = _user_home_dir(non_root_user, "read-only-home")
    roots_home = tmp_path / "roots-embly-home"  # exists, belongs to root
    roots_home.mkdir()
    tmp_path.chmod(0o755)
    env = isolated_environment(
        **nix_settings(tmp_path / "nix-conf", ""), EMBLY_HOME=str(roots_home)
    )
    result = _provision(installed_wheel.embly, env, work, non_root_user)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "set EMBLY_HOME to a directory you can write" in result.stderr


def test_something_in_the_way_of_the_gc_root_is_named(
    installed_wheel: InstalledWheel, tmp_path: Path
) -> None:
    home = tmp_path / "embly-home"
    (home / "gcroots" / "toolchain-rust-host").mkdir(parents=True)
    env = isolated_environment(**nix_settings(tmp_path / "nix-conf", ""), EMBLY_HOME=str(home))
    result = _provision(installed_wheel.embly, env, tmp_path)
    assert result.returncode == 2, result.stderr
    assert "is in the way of a GC root embly keeps there: move it away" in result.stderr
    assert result.stderr.count("in the way") == 1


def test_a_stray_link_at_the_gc_root_is_replaced_and_orphans_are_removed(
    installed_wheel: InstalledWheel, tmp_path: Path
) -> None:
    home = tmp_path / "embly-home"
    (home / "gcroots").mkdir(parents=True)
    (home / "gcroots" / "toolchain-rust-host").symlink_to("/etc")
    # What a provisioning killed outright leaves: its pid is surely not running.
    orphan = home / "tmp" / "toolchain-999999999-abc"
    (orphan / "embly-toolchain-rust-host" / "bin").mkdir(parents=True)
    env = isolated_environment(**nix_settings(tmp_path / "nix-conf", ""), EMBLY_HOME=str(home))
    result = _provision(installed_wheel.embly, env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert (home / "gcroots" / "toolchain-rust-host").readlink().is_relative_to("/nix/store")
    assert not orphan.exists()
    assert list((home / "tmp").iterdir()) == []
