"""RUNTIMES: the one list of runtimes, which embly.hcl, the server and the toolchains share."""

from __future__ import annotations

import subprocess
import sys

from embly_build.client.config.project import KNOWN_RUNTIMES
from embly_build.server.runtimes import RUNTIMES, make_runtimes
from embly_build.server.toolchains.base import RUNTIME_TOOLS


def test_each_runtime_is_made_under_its_own_name() -> None:
    runtimes = make_runtimes()
    assert list(runtimes) == list(RUNTIMES)
    assert all(runtime.name == name for name, runtime in runtimes.items())


def test_embly_hcl_and_the_toolchains_know_the_same_runtimes() -> None:
    assert tuple(RUNTIMES) == KNOWN_RUNTIMES
    assert set(RUNTIME_TOOLS) == set(RUNTIMES)


def test_the_registries_import_no_implementation() -> None:
    """The CLI reads them to check and explain its options, before any build starts."""
    script = (
        "import sys\n"
        "import embly_build.server.executors, embly_build.server.runtimes\n"
        "import embly_build.server.toolchains\n"
        "heavy = ('asyncio', 'embly_build.server.executors.nix_shell',\n"
        "         'embly_build.server.runtimes.rust', 'embly_build.server.toolchains.host',\n"
        "         'embly_build.server.toolchains.nixpkgs')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-P", "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
