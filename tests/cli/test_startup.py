"""Commands that build nothing start without loading the build stack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import sys
sys.argv = ["embly", *sys.argv[1:]]
from embly_build.cli.app import app
try:
    app(prog_name="embly")  # as main() runs it, which then ends the process at once
except SystemExit:
    pass
heavy = ("asyncio", "betterproto", "grpclib", "embly_build.client.session.client")
print(sorted(name for name in heavy if name in sys.modules))
"""


def loaded_by(project: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-P", "-c", SCRIPT, *args],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


def test_run_does_not_load_the_build_stack(project: Path) -> None:
    assert loaded_by(project, "run", "greeter") == "[]"  # not built: an error, quickly


def test_help_does_not_load_the_build_stack(project: Path) -> None:
    assert loaded_by(project, "--help") == "[]"
    assert loaded_by(project, "build", "--help") == "[]"
