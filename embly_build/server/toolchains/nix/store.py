"""Put a prepared directory into the Nix store and keep it there with a GC root.

`nix-store --add` copies a directory in as it is (symlinks stay symlinks) and needs no
build, so neither Nix's sandbox nor its build users are involved; through a daemon it works
for a user who is not trusted, since the path is named by its content. The GC root is made
by `nix-store --realise --add-root`, which registers it with Nix (through the daemon on a
multi-user install), so `nix-store --gc` keeps the path while the root exists.
A toolchain that must be built (the nixpkgs provider) goes in with `nix-build -o GCROOT`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from embly_build.errors import EnvironmentProblem
from embly_build.server.toolchains.base import LogSink
from embly_build.server.toolchains.nix.commands import (
    CommandResult,
    find_nix_tool,
    printed_path,
    run_command,
)
from embly_build.server.toolchains.nix.failures import nix_failure
from embly_build.server.toolchains.nix.options import nix_options

# A garbage collection between the add and the root can take the new, unrooted path; it
# would have to win this race every time.
_ATTEMPTS = 5


async def add_to_store_with_root(directory: Path, gcroot: Path, *, what: str) -> Path:
    """The store path of `directory`'s content, with `gcroot` a GC root pointing at it.
    `what` names the content in errors ("the host toolchain")."""
    nix_store = find_nix_tool("nix-store")
    options = await nix_options()
    _clear_root_path(gcroot)
    for _ in range(_ATTEMPTS):
        added = await run_command([nix_store, *options, "--add", str(directory)])
        store_path = _added_path(added, f"adding {what} to the Nix store")
        rooted = await run_command(
            [nix_store, *options, "--realise", str(store_path), "--add-root", str(gcroot)]
        )
        if rooted.returncode == 0:
            return store_path
    raise nix_failure(f"making the GC root {gcroot} for {what} ({store_path})", rooted)


def _clear_root_path(gcroot: Path) -> None:
    """Make way for the root: a link there is ours to replace (Nix keeps one that points
    outside the store); anything else is the user's, so say what to do."""
    try:
        gcroot.parent.mkdir(parents=True, exist_ok=True)
        if gcroot.is_symlink():
            gcroot.unlink()
    except OSError as exc:
        raise EnvironmentProblem(
            f"cannot make the GC root {gcroot}: {exc.strerror or exc}; "
            "set EMBLY_HOME to a directory you can write"
        ) from exc
    if gcroot.exists():
        raise EnvironmentProblem(
            f"{gcroot} is in the way of a GC root embly keeps there: move it away and run again"
        )


def _added_path(result: CommandResult, what: str) -> Path:
    path = printed_path(result)
    if result.returncode != 0 or path is None:
        raise nix_failure(what, result)
    return path


async def nix_build(
    expr: Path,
    args: Mapping[str, str],
    *,
    gcroot: Path,
    on_log: LogSink | None,
    offline: bool = True,
) -> CommandResult:
    """nix-build `expr` with `--argstr` args, keeping the result alive with a GC root."""
    argv = [find_nix_tool("nix-build"), str(expr), "-o", str(gcroot)]
    argv += await nix_options(offline=offline)
    for name, value in args.items():
        argv += ["--argstr", name, value]
    gcroot.parent.mkdir(parents=True, exist_ok=True)
    return await run_command(argv, on_stderr_line=on_log)
