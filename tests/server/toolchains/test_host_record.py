"""A provisioned host toolchain is remembered across processes until a tool changes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from embly_build.server.toolchains import find_nixexprs_dir, host
from embly_build.server.toolchains.base import RUNTIME_TOOLS
from embly_build.server.toolchains.host import HostToolchainProvider

pytestmark = pytest.mark.slow


@pytest.fixture
def tool_dir(tmp_path: Path) -> Path:
    """A search path of links to this machine's real tools, so the test can change it."""
    directory = tmp_path / "bin"
    directory.mkdir()
    for name in {*RUNTIME_TOOLS["rust"], "nix-build", "nix-shell", "nix-store"}:
        real = shutil.which(name, path="/usr/bin:/bin")
        assert real, name
        (directory / name).symlink_to(real)
    return directory


def forbid_probing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault injection: any tool detection now fails, so success proves the record was used."""

    async def no_detection(*_: object) -> object:
        raise AssertionError("host tools were probed again")

    monkeypatch.setattr(host, "detect_tools", no_detection)


async def test_second_provider_reuses_the_record(
    tmp_path: Path, tool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tool_dir))
    first = await HostToolchainProvider(tmp_path / "home", find_nixexprs_dir()).provision("rust")
    forbid_probing(monkeypatch)
    again = await HostToolchainProvider(tmp_path / "home", find_nixexprs_dir()).provision("rust")
    assert again == first
    assert again.versions == first.versions


async def test_a_changed_tool_is_probed_again(
    tmp_path: Path, tool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tool_dir))
    await HostToolchainProvider(tmp_path / "home", find_nixexprs_dir()).provision("rust")
    forbid_probing(monkeypatch)
    (tool_dir / "newly-installed-tool").write_text("")  # the directory's mtime changes
    future = (tool_dir.stat().st_mtime_ns + 10**9,) * 2
    os.utime(tool_dir, ns=future)
    with pytest.raises(AssertionError, match="probed again"):
        await HostToolchainProvider(tmp_path / "home", find_nixexprs_dir()).provision("rust")


async def test_a_collected_toolchain_is_provisioned_again(
    tmp_path: Path, tool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tool_dir))
    home = tmp_path / "home"
    await HostToolchainProvider(home, find_nixexprs_dir()).provision("rust")
    (home / "gcroots" / "toolchain-rust-host").unlink()  # the GC root is gone
    forbid_probing(monkeypatch)
    with pytest.raises(AssertionError, match="probed again"):
        await HostToolchainProvider(home, find_nixexprs_dir()).provision("rust")
