"""Put a prepared directory into the Nix store and keep it there with a GC root.

`nix-store --add` copies a directory in as it is (symlinks stay symlinks) and needs no
build, so neither Nix's sandbox nor its build users are involved; through a daemon it works
for a user who is not trusted, since the path is named by its content. The GC root is made
by `nix-store --realise --add-root`, which registers it with Nix (through the daemon on a
multi-user install), so `nix-store --gc` keeps the path while the root exists.
"""

from __future__ import annotations

from pathlib import Path

from embly_build.errors import EnvironmentProblem
from embly_build.server.toolchains.base import (
    CommandResult,
    LogSink,
    find_nix_tool,
    run_command,
    stderr_tail,
)
from embly_build.server.toolchains.nix_options import nix_options

# A garbage collection between the add and the root can take the new, unrooted path.
_ATTEMPTS = 2


async def add_to_store_with_root(
    directory: Path, gcroot: Path, *, on_log: LogSink | None = None
) -> Path:
    """The store path of `directory`'s content, with `gcroot` a GC root pointing at it."""
    nix_store = find_nix_tool("nix-store")
    options = await nix_options()
    try:
        gcroot.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EnvironmentProblem(
            f"cannot make the GC root directory {gcroot.parent}: {exc.strerror or exc}; "
            "set EMBLY_HOME to a directory you can write"
        ) from exc
    for attempt in range(_ATTEMPTS):
        added = await run_command(
            [nix_store, *options, "--add", str(directory)], on_stderr_line=on_log
        )
        store_path = _printed_path(added, f"nix-store --add {directory}")
        rooted = await run_command(
            [nix_store, *options, "--realise", str(store_path), "--add-root", str(gcroot)],
            on_stderr_line=on_log,
        )
        if rooted.returncode == 0:
            return store_path
        if attempt + 1 == _ATTEMPTS:
            raise EnvironmentProblem(
                f"cannot make the GC root {gcroot} for {store_path}:\n{stderr_tail(rooted)}"
            )
    raise AssertionError("unreachable")


def _printed_path(result: CommandResult, what: str) -> Path:
    lines = [line for line in result.stdout.splitlines() if line.startswith("/")]
    if result.returncode != 0 or not lines:
        raise EnvironmentProblem(f"{what} failed:\n{stderr_tail(result)}")
    return Path(lines[-1])
