"""What the install tests stand on: a wheel installed outside the checkout, Nix settings of
the test's own (the machine's /etc/nix kept out), build users, a user who is not root, and
a real nix-daemon."""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import background_daemon

REPO = Path(__file__).resolve().parents[2]
# A Python every user can run: the test's own may live in root's home.
SYSTEM_PYTHON = Path("/usr/bin/python3")
BUILD_USERS_GROUP = "embly-test-nixbld"
BUILD_USERS = tuple(f"{BUILD_USERS_GROUP}{n}" for n in (1, 2, 3))
NON_ROOT_USER = "embly-test-user"


def _not_source(directory: str, names: list[str]) -> set[str]:
    """What a wheel is not built from: VCS data, environments, caches, setuptools' build/."""
    ignored = {
        name
        for name in names
        if name in (".git", ".venv", "__pycache__", "target")
        or name.endswith((".egg-info", "_cache"))
    }
    if Path(directory) == REPO and "build" in names:
        ignored.add("build")
    return ignored


@dataclass(frozen=True)
class InstalledWheel:
    wheel: Path
    venv: Path

    @property
    def embly(self) -> Path:
        return self.venv / "bin" / "embly"


@pytest.fixture(scope="session")
def installed_wheel() -> Iterator[InstalledWheel]:
    """embly-build built as a wheel and installed with pip into a new virtualenv outside
    the checkout, readable by every user."""
    if not SYSTEM_PYTHON.exists():
        pytest.skip(f"{SYSTEM_PYTHON} is not installed (make setup installs it)")
    root = Path(tempfile.mkdtemp(prefix="embly-wheel-"))
    try:
        root.chmod(0o755)
        # Built from a copy: setuptools reuses a build/ folder in the source tree, which
        # would keep files since deleted, and the checkout is left as it was.
        source = root / "source"
        shutil.copytree(REPO, source, ignore=_not_source)
        wheels = root / "wheels"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "-q",
                "--no-deps",
                "-w",
                str(wheels),
                str(source),
            ],
            check=True,
            capture_output=True,
        )
        (wheel,) = wheels.glob("embly_build-*.whl")
        venv = root / "venv"
        subprocess.run([str(SYSTEM_PYTHON), "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", str(wheel)],
            check=True,
            capture_output=True,
        )
        subprocess.run(["chmod", "-R", "a+rX", str(root)], check=True)
        yield InstalledWheel(wheel, venv)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def nix_settings(directory: Path, conf: str) -> dict[str, str]:
    """Environment for nix commands that read `conf` as nix.conf and no other settings file.
    (NIX_CONFIG must also be unset: see `isolated_environment`.)"""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "nix.conf").write_text(conf)
    return {
        "NIX_CONF_DIR": str(directory),
        "NIX_USER_CONF_FILES": str(directory / "no-user-nix.conf"),
    }


def isolated_environment(**overrides: str) -> dict[str, str]:
    """This process's environment without any Nix or embly setting of the machine's."""
    kept = {
        name: value for name, value in os.environ.items() if not name.startswith(("NIX_", "EMBLY_"))
    }
    return {**kept, "EMBLY_TOOLCHAINS": "host", **overrides}


def _ensure_group(name: str) -> None:
    with contextlib.suppress(KeyError):
        grp.getgrnam(name)
        return
    subprocess.run(["groupadd", "--system", name], check=True)


def _ensure_user(name: str, *args: str) -> None:
    with contextlib.suppress(KeyError):
        pwd.getpwnam(name)
        return
    subprocess.run(["useradd", *args, name], check=True, capture_output=True)


def _require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("making build users and a nix-daemon needs root")


@pytest.fixture(scope="session")
def build_users_group() -> Iterator[str]:
    """A build-users group with build users, as Debian's nix-setup-systemd and Nix's
    multi-user installer make (under a name of the test's own), removed afterwards."""
    _require_root()
    _ensure_group(BUILD_USERS_GROUP)
    for user in BUILD_USERS:
        _ensure_user(
            user,
            "--system",
            "--home-dir",
            "/var/empty",
            "--gid",
            BUILD_USERS_GROUP,
            "--no-user-group",
            "--shell",
            "/usr/sbin/nologin",
        )
    try:
        yield BUILD_USERS_GROUP
    finally:
        for user in BUILD_USERS:
            subprocess.run(["userdel", user], capture_output=True)
        subprocess.run(["groupdel", BUILD_USERS_GROUP], capture_output=True)


@dataclass(frozen=True)
class NonRootUser:
    name: str
    uid: int
    gid: int
    home: Path


@pytest.fixture(scope="session")
def non_root_user() -> Iterator[NonRootUser]:
    """A plain user (not trusted by any nix-daemon) with a home of its own."""
    _require_root()
    home = Path(tempfile.mkdtemp(prefix="embly-user-home-"))
    home.chmod(0o755)
    _ensure_user(NON_ROOT_USER, "--home-dir", str(home), "--no-create-home", "--user-group")
    entry = pwd.getpwnam(NON_ROOT_USER)
    os.chown(home, entry.pw_uid, entry.pw_gid)
    try:
        yield NonRootUser(NON_ROOT_USER, entry.pw_uid, entry.pw_gid, home)
    finally:
        subprocess.run(["userdel", NON_ROOT_USER], capture_output=True)
        subprocess.run(["groupdel", NON_ROOT_USER], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def run_as(
    argv: list[str], *, cwd: Path, env: dict[str, str], user: NonRootUser | None = None
) -> subprocess.CompletedProcess[str]:
    """Run argv as `user` (with their HOME and USER), else as this process's user."""
    if user is not None:
        env = {**env, "HOME": str(user.home), "USER": user.name, "LOGNAME": user.name}
    return subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        user=user.uid if user else None,
        group=user.gid if user else None,
        extra_groups=[] if user else None,
    )


@dataclass(frozen=True)
class NixDaemon:
    socket: Path
    settings: dict[str, str]
    log: Path

    def client_environment(self) -> dict[str, str]:
        return {
            **self.settings,
            "NIX_REMOTE": "daemon",
            "NIX_DAEMON_SOCKET_PATH": str(self.socket),
        }


@pytest.fixture
def nix_daemon(build_users_group: str) -> Iterator[NixDaemon]:
    """A real nix-daemon as a multi-user install runs it: build users, sandbox on, only root
    trusted; on a socket of its own, so the machine's daemon (if any) is left alone."""
    directory = Path(tempfile.mkdtemp(prefix="embly-nix-daemon-"))
    directory.chmod(0o755)
    settings = nix_settings(
        directory / "conf",
        f"build-users-group = {build_users_group}\nsandbox = true\ntrusted-users = root\n",
    )
    socket = directory / "socket"
    log = directory / "daemon.log"
    try:
        with background_daemon(
            ["nix-daemon"],
            log,
            socket.exists,
            within=10,
            env=isolated_environment(**settings, NIX_DAEMON_SOCKET_PATH=str(socket)),
        ):
            yield NixDaemon(socket, settings, log)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
