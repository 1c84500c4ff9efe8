"""A failed nix command as the user reads it: Nix's own last lines, and for the mistakes a
multi-user install invites (no daemon, a socket or store the user may not use), what to do."""

from __future__ import annotations

from embly_build.errors import EnvironmentProblem
from embly_build.server.toolchains.nix.commands import CommandResult, stderr_tail

# (every text that must appear in Nix's error output, the advice)
_HINTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("cannot connect to socket", "No such file or directory"),
        "the Nix daemon is not running: start it (systemctl start nix-daemon), or, as root, "
        "unset NIX_REMOTE to use the store directly",
    ),
    (
        ("cannot connect to socket", "Permission denied"),
        "you may not use the Nix daemon's socket: join the group that owns it (Debian: "
        "adduser $USER nix-users, then log in again)",
    ),
    (
        ("cannot open connection to remote store",),
        "the Nix daemon refused you: your user must be in `allowed-users` of the daemon's "
        "nix.conf (after a change, restart the daemon)",
    ),
    (
        ("/nix/var/nix", "Operation not permitted"),
        "the Nix store belongs to root and no daemon is used: run nix-daemon and set "
        "NIX_REMOTE=daemon, or run as root",
    ),
    (
        ("/nix/var/nix", "Permission denied"),
        "the Nix store belongs to root and no daemon is used: run nix-daemon and set "
        "NIX_REMOTE=daemon, or run as root",
    ),
)


def nix_hint(output: str) -> str:
    """What to do about a Nix failure whose output is `output`; empty when no hint fits."""
    for signs, advice in _HINTS:
        if all(sign in output for sign in signs):
            return advice
    return ""


def nix_failure(what: str, result: CommandResult) -> EnvironmentProblem:
    """`what` failed: Nix's last lines, then the advice when one fits."""
    hint = nix_hint(result.stderr)
    advice = f"\n{hint}" if hint else ""
    return EnvironmentProblem(f"{what} failed:\n{stderr_tail(result)}{advice}")
