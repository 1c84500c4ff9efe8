"""Running the real `embly` command the way a user does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

# The installed entry point, as users run it (`python -m embly_build` run from a project
# directory would import the project's embly_build/ output folder instead of the package).
EMBLY = Path(sys.executable).parent / "embly"


def embly(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(EMBLY), *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def json_events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def finished_by_function(stdout: str) -> dict[str, dict[str, Any]]:
    return {e["function"]: e for e in json_events(stdout) if e["event"] == "build_finished"}


def leftover_processes(embly_home: Path) -> list[str]:
    """Processes still working in, or pointed at, this test's EMBLY_HOME."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(proc / "cwd")
            environ = (proc / "environ").read_bytes()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if cwd.startswith(str(embly_home)) or f"EMBLY_HOME={embly_home}".encode() in environ:
            found.append(f"{proc.name}: {cmdline}")
    return found
