"""Run a command on this machine as if Nix (and, with --no-docker, Docker) were not
installed: in a private mount namespace (`unshare --mount`, root only), /dev/null is
bind-mounted over each of their programs, and with --no-docker a tmpfs over /run hides the
engine's socket. Nothing outside the namespace changes.

    unshare --mount --propagation private python hidden_tools.py [--no-docker] -- ARGV...
"""

from __future__ import annotations

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
