"""embly with Nix as people have it installed, each with its settings untouched: the bare
`nix-bin` package (Nix's defaults), a multi-user install (a nix-daemon, a user who is not
trusted, sandbox on) and Debian's nix-setup-systemd layout. Each builds and runs the
example, and nothing Nix warns about reaches the user."""

from __future__ import annotations

import grp
import os
import subprocess
from pathlib import Path

import pytest

from tests.example_project import copy_example
from tests.installs.conftest import (
    InstalledWheel,
    NixDaemon,
    NonRootUser,
    isolated_environment,
    nix_settings,
    run_as,
)

pytestmark = pytest.mark.slow

# Nix's default group name is `nixbld`, which a machine may have (nix-setup-systemd makes it);
# a group that surely does not exist gives what the bare package sees on a fresh machine.
MISSING_GROUP = "embly-test-no-such-group"


def _project(parent: Path, user: NonRootUser | None = None) -> Path:
    project = parent / "hello-project"
    copy_example(project)
    if user is not None:
        for path in [parent, project, *project.rglob("*")]:
            os.chown(path, user.uid, user.gid, follow_symlinks=False)
    return project


def _assert_no_nix_warnings(result: subprocess.CompletedProcess[str]) -> None:
    output = result.stdout + result.stderr
    for sign in ("warning", "nixbld", "substituter", "trusted user", "cache.nixos.org"):
        assert sign not in output.lower(), output


def _build_andrun_as(
    embly: Path, project: Path, env: dict[str, str], user: NonRootUser | None = None
) -> None:
    provisioned = run_as([str(embly), "toolchains", "--provision"], cwd=project, env=env, user=user)
    assert provisioned.returncode == 0, provisioned.stdout + provisioned.stderr
    _assert_no_nix_warnings(provisioned)
    built = run_as([str(embly), "build"], cwd=project, env=env, user=user)
    assert built.returncode == 0, built.stdout + built.stderr
    assert "3 ok" in built.stderr
    _assert_no_nix_warnings(built)
    ran = run_as([str(embly), "run", "greeter", "--", "Ada"], cwd=project, env=env, user=user)
    assert ran.stdout == "Hello, Ada!\n", ran.stderr


def _toolchain_root(embly_home: Path) -> Path:
    return embly_home / "gcroots" / "toolchain-rust-host"


def test_bare_package_with_nix_defaults(tmp_path: Path, installed_wheel: InstalledWheel) -> None:
    """Root, no nix.conf, no build-users group: sandbox on and a group that does not exist."""
    with pytest.raises(KeyError):
        grp.getgrnam(MISSING_GROUP)
    settings = nix_settings(tmp_path / "nix-conf", f"build-users-group = {MISSING_GROUP}\n")
    env = isolated_environment(**settings, EMBLY_HOME=str(tmp_path / "embly-home"))
    # The configuration is Nix's defaults on a fresh machine: Nix itself complains.
    plain = run_as(["nix-store", "--gc", "--print-roots"], cwd=tmp_path, env=env)
    assert f"the group '{MISSING_GROUP}' specified in 'build-users-group' does not exist" in (
        plain.stderr
    )
    sandbox = run_as(
        ["nix", "--extra-experimental-features", "nix-command", "show-config"],
        cwd=tmp_path,
        env=env,
    )
    assert "sandbox = true" in sandbox.stdout.splitlines()

    _build_andrun_as(installed_wheel.embly, _project(tmp_path), env)


def test_debian_nix_setup_systemd_layout(
    tmp_path: Path, installed_wheel: InstalledWheel, build_users_group: str
) -> None:
    """What Debian's nix-setup-systemd leaves: `sandbox = false` and a build-users group."""
    settings = nix_settings(
        tmp_path / "nix-conf", f"sandbox = false\nbuild-users-group = {build_users_group}\n"
    )
    env = isolated_environment(**settings, EMBLY_HOME=str(tmp_path / "embly-home"))

    _build_andrun_as(installed_wheel.embly, _project(tmp_path), env)


def test_multi_user_install_through_a_daemon(
    installed_wheel: InstalledWheel, nix_daemon: NixDaemon, non_root_user: NonRootUser
) -> None:
    """A nix-daemon with sandbox on, used by a user who is not trusted: provisioning, a
    build, and a GC root that keeps the toolchain through `nix-store --gc`."""
    work = non_root_user.home / "work"
    work.mkdir()
    os.chown(work, non_root_user.uid, non_root_user.gid)
    project = _project(work, non_root_user)
    embly_home = non_root_user.home / "embly-home"
    env = isolated_environment(**nix_daemon.client_environment(), EMBLY_HOME=str(embly_home))

    _build_andrun_as(installed_wheel.embly, project, env, non_root_user)

    gcroot = _toolchain_root(embly_home)
    toolchain = gcroot.readlink()
    roots = run_as(["nix-store", "--gc", "--print-roots"], cwd=work, env=env)
    assert f"{gcroot} -> {toolchain}" in roots.stdout.splitlines(), roots.stdout + roots.stderr
    collected = run_as(["nix-store", "--gc"], cwd=work, env=env)
    assert collected.returncode == 0, collected.stderr
    assert (toolchain / "bin" / "cargo").exists()
    # Connections came from the user through the daemon, not from a local store of root's.
    assert f"user {non_root_user.name}" in nix_daemon.log.read_text()

    main_rs = project / "greeter" / "src" / "main.rs"
    main_rs.write_text(main_rs.read_text().replace('println!("{}"', 'println!("{}!"'))
    rebuilt = run_as(
        [str(installed_wheel.embly), "build", "greeter"], cwd=project, env=env, user=non_root_user
    )
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    _assert_no_nix_warnings(rebuilt)
    assert gcroot.readlink() == toolchain  # the same toolchain, not provisioned again
    ran = run_as(
        [str(installed_wheel.embly), "run", "greeter", "--", "Ada"],
        cwd=project,
        env=env,
        user=non_root_user,
    )
    assert ran.stdout == "Hello, Ada!!\n", ran.stderr
