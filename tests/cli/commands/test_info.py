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


def test_json_is_snake_case_with_numbers_as_numbers(tmp_path: Path, embly_home: Path) -> None:
    """As every other --json output (`cache_hit`, `uploaded_bytes`), not the proto3 JSON
    mapping's camelCase and int64 strings."""
    shown = embly("info", "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    info = json.loads(shown.stdout)
    assert info["store"] == {"blob_count": 0, "blob_bytes": 0, "action_cache_entries": 0}
    assert {"server_version", "wasmtime_version", "platform", "toolchains"} <= info.keys()
    for toolchain in info["toolchains"]:
        assert {"wasm_target", "store_path", "identity", "versions"} <= toolchain.keys()


def test_quiet_prints_nothing_and_says_by_its_exit_code_whether_the_server_answers(
    tmp_path: Path, embly_home: Path
) -> None:
    answered = embly("info", "-q", cwd=tmp_path)
    assert (answered.returncode, answered.stdout, answered.stderr) == (0, "", "")

    address = f"unix:{tmp_path / 'nobody.sock'}"
    unanswered = embly("info", "--quiet", "--remote", address, cwd=tmp_path)
    assert unanswered.returncode == 2
    assert unanswered.stdout == ""
    assert f"cannot reach the build server at {address}" in unanswered.stderr


def test_verbose_shows_each_toolchains_identity_and_tool_versions(
    tmp_path: Path, embly_home: Path
) -> None:
    toolchains = json.loads(embly("info", "--json", cwd=tmp_path).stdout)["toolchains"]
    shown = embly("info", "-v", cwd=tmp_path)
    plain = embly("info", cwd=tmp_path).stdout

    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(plain.split("toolchain")[0])
    for toolchain in toolchains:
        for name, value in {"identity": toolchain["identity"], **toolchain["versions"]}.items():
            line = f"            {name:<11} {value}"
            assert line in shown.stdout.splitlines()
            assert line not in plain.splitlines()


@pytest.mark.slow
def test_a_store_after_a_build(project: Path, embly_home: Path) -> None:
    assert embly("build", "greeter", "-q", cwd=project).returncode == 0
    store = json.loads(embly("info", "--json", cwd=project).stdout)["store"]
    blobs, size, actions = (
        store[key] for key in ("blob_count", "blob_bytes", "action_cache_entries")
    )
    assert blobs > 0 and size > 0 and actions > 0
    line = f"store       {blobs} blobs, {format_size(size)}; {actions} cached actions"
    assert line in embly("info", cwd=project).stdout
