"""Run a command on this machine as if Nix (and, with --no-docker, Docker) were not
installed: in a private mount namespace (`unshare --mount`, root only), /dev/null is
bind-mounted over each of their programs, and with --no-docker a tmpfs over /run hides the
engine's socket. Nothing outside the namespace changes.

    unshare --mount --propagation private python hidden_tools.py [--no-docker] -- ARGV...

Tests take that prefix from `hiding_argv`, which skips them where no private mount
namespace can be made (not root, no unshare, a container without the privilege).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys

NIX_PROGRAMS = (
    "nix",
    "nix-build",
    "nix-shell",
    "nix-store",
    "nix-instantiate",
    "nix-env",
    "nix-daemon",
    "nix-collect-garbage",
)
DOCKER_PROGRAMS = ("docker", "dockerd")


def hiding_argv(*, docker: bool = True) -> list[str]:
    """The argv prefix that runs a command with Nix (and unless `docker`, Docker) hidden;
    skips the calling test where that cannot be done here."""
    import pytest

    if not _private_mounts_work():
        pytest.skip(
            "hiding Nix needs a private mount namespace: root, unshare (util-linux) and the "
            "privilege to unshare (not in an unprivileged container)"
        )
    hidden = [] if docker else ["--no-docker"]
    return [
        *("unshare", "--mount", "--propagation", "private"),
        *(sys.executable, os.path.abspath(__file__), *hidden, "--"),
    ]


@functools.cache
def _private_mounts_work() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = ["unshare", "--mount", "--propagation", "private", "true"]
    return subprocess.run(probe, capture_output=True).returncode == 0


def hide(program: str) -> None:
    """Every copy of `program` on PATH (symlinks resolved) made /dev/null."""
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        path = os.path.join(directory, program)
        if os.path.exists(path):
            subprocess.run(["mount", "--bind", "/dev/null", os.path.realpath(path)], check=True)


def main(arguments: list[str]) -> None:
    separator = arguments.index("--")
    options, argv = arguments[:separator], arguments[separator + 1 :]
    for program in NIX_PROGRAMS:
        hide(program)
    if "--no-docker" in options:
        for program in DOCKER_PROGRAMS:
            hide(program)
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/run"], check=True)
        os.environ.pop("DOCKER_HOST", None)
    assert shutil.which("nix-shell") is None, "nix-shell is still runnable"
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    main(sys.argv[1:])
