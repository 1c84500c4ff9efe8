"""`embly info`: the server and what its store holds, in the units `embly gc` uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embly_build.server.sizes import format_size
from tests.helpers import embly


def test_an_empty_store(tmp_path: Path, embly_home: Path) -> None:
    shown = embly("info", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "store       0 blobs, 0 B; 0 cached actions" in shown.stdout


@pytest.mark.slow
def test_a_store_after_a_build(project: Path, embly_home: Path) -> None:
    assert embly("build", "greeter", "-q", cwd=project).returncode == 0
    store = json.loads(embly("info", "--json", cwd=project).stdout)["store"]
    blobs, size, actions = (
        int(store[key]) for key in ("blobCount", "blobBytes", "actionCacheEntries")
    )
    assert blobs > 0 and size > 0 and actions > 0
    line = f"store       {blobs} blobs, {format_size(size)}; {actions} cached actions"
    assert line in embly("info", cwd=project).stdout
