from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from embly_build.errors import EnvironmentProblem
from embly_build.server.toolchains import (
    find_nixexprs_dir,
    host,
    toolchain_provider,
)
from embly_build.server.toolchains.base import RUNTIME_TOOLS, Toolchain
from embly_build.server.toolchains.host import HostToolchainProvider
from embly_build.server.toolchains.nixpkgs import NETWORK_NEEDED, NixpkgsToolchainProvider

RUST_TOOLS = set(RUNTIME_TOOLS["rust"])
NIXEXPRS_DIR = find_nixexprs_dir()


def _gc_roots() -> str:
    return subprocess.run(
        ["nix-store", "--gc", "--print-roots"], capture_output=True, text=True, check=True
    ).stdout


def _fault_injection_tool(directory: Path, name: str, script: str) -> Path:
    """A real executable shadowing a host tool and misbehaving as the test wants."""
    directory.mkdir(parents=True, exist_ok=True)
    tool = directory / name
    tool.write_text(f"#!/bin/sh\n{script}\n")
    tool.chmod(0o755)
    return tool


@pytest.mark.slow
async def test_host_toolchain_holds_exactly_the_tools_and_a_gc_root(tmp_path: Path) -> None:
    toolchain = await HostToolchainProvider(tmp_path, NIXEXPRS_DIR).provision("rust")

    assert toolchain.store_path.is_relative_to("/nix/store")
    assert {p.name for p in toolchain.bin_dir.iterdir()} == RUST_TOOLS | {"embly-rustc-wrapper"}
    # nix-shell exports the shell derivation's stdenv: this store path.
    assert (toolchain.store_path / "setup").read_text() == "export PATH=$stdenv/bin\n"
    wrapper = (toolchain.bin_dir / "embly-rustc-wrapper").read_text()
    assert wrapper.startswith(f"#!{(toolchain.bin_dir / 'bash').readlink()}\n")
    assert set(toolchain.versions) == RUST_TOOLS
    assert len(toolchain.identity) == 64
    gcroot = tmp_path / "gcroots" / "toolchain-rust-host"
    assert f"{gcroot} -> {toolchain.store_path}" in _gc_roots().splitlines()


@pytest.mark.slow
async def test_host_rustc_has_the_wasm_std_even_behind_a_rustup_proxy(tmp_path: Path) -> None:
    toolchain = await HostToolchainProvider(tmp_path, NIXEXPRS_DIR).provision("rust")

    rustc = toolchain.bin_dir / "rustc"
    sysroot = subprocess.run(
        [str(rustc), "--print", "sysroot"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert toolchain.wasm_target in ("wasm32-wasip1", "wasm32-wasi")
    assert (Path(sysroot) / "lib" / "rustlib" / toolchain.wasm_target / "lib").is_dir()
    assert not rustc.resolve().name.startswith("rustup")
    assert not (toolchain.bin_dir / "cargo").resolve().name.startswith("rustup")


@pytest.mark.slow
async def test_second_provision_is_fast_and_identical(tmp_path: Path) -> None:
    first = await HostToolchainProvider(tmp_path, NIXEXPRS_DIR).provision("rust")

    started = time.monotonic()
    again = await HostToolchainProvider(tmp_path, NIXEXPRS_DIR).provision("rust")
    assert time.monotonic() - started < 5
    assert again == first
    assert hash(again) == hash(first)


@pytest.mark.slow
async def test_concurrent_provisions_build_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds = 0
    real_add = host.add_to_store_with_root

    async def counting_add(*args: Any, **kwargs: Any) -> Path:
        nonlocal builds
        builds += 1
        return await real_add(*args, **kwargs)

    monkeypatch.setattr(host, "add_to_store_with_root", counting_add)
    provider = HostToolchainProvider(tmp_path, NIXEXPRS_DIR)

    results = await asyncio.gather(*(provider.provision("rust") for _ in range(4)))
    assert builds == 1
    assert len(set(results)) == 1
    await provider.provision("rust")
    assert builds == 1


@pytest.mark.slow
async def test_identity_changes_when_a_host_tool_version_changes(tmp_path: Path) -> None:
    normal = await HostToolchainProvider(tmp_path, NIXEXPRS_DIR).provision("rust")
    fake_dir = tmp_path / "fault-injection-bin"
    fake = _fault_injection_tool(
        fake_dir, "wasm-opt", "echo 'wasm-opt version 999 (fault injection)'"
    )

    search_path = f"{fake_dir}{os.pathsep}{os.environ['PATH']}"
    changed = await HostToolchainProvider(
        tmp_path, NIXEXPRS_DIR, search_path=search_path
    ).provision("rust")

    assert changed.versions["wasm-opt"] == "wasm-opt version 999 (fault injection)"
    assert (changed.bin_dir / "wasm-opt").readlink() == fake
    assert changed.identity != normal.identity
    assert changed.store_path != normal.store_path


async def test_missing_tools_name_the_packages_to_install(tmp_path: Path) -> None:
    provider = HostToolchainProvider(tmp_path, NIXEXPRS_DIR, search_path=str(tmp_path))

    with pytest.raises(EnvironmentProblem) as caught:
        await provider.provision("rust")
    message = str(caught.value)
    assert "cargo, rustc" in message
    assert "wasm-opt" in message
    assert "apt-get install rustc cargo libstd-rust-dev-wasm32 wabt binaryen lld-14 gcc" in message
    assert "rustup target add wasm32-wasip1" in message


async def test_rustc_without_wasm_std_is_rejected(tmp_path: Path) -> None:
    sysroot = tmp_path / "sysroot"
    (sysroot / "lib" / "rustlib" / "x86_64-unknown-linux-gnu" / "lib").mkdir(parents=True)
    fake_dir = tmp_path / "fault-injection-bin"
    script = (
        'case "$2" in sysroot) echo "SYSROOT";; '
        "target-list) echo wasm32-wasip1; echo x86_64-unknown-linux-gnu;; esac"
    ).replace("SYSROOT", str(sysroot))
    _fault_injection_tool(fake_dir, "rustc", script)

    with pytest.raises(EnvironmentProblem) as caught:
        await host.detect_tools(("rustc",), str(fake_dir))
    assert f"{fake_dir / 'rustc'} (sysroot {sysroot}) has no wasm32-wasip1" in str(caught.value)


async def test_unknown_runtime_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentProblem, match="runtime 'cobol'"):
        await HostToolchainProvider(tmp_path, NIXEXPRS_DIR).provision("cobol")


def test_unknown_provider_kind_lists_both(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentProblem) as caught:
        toolchain_provider("docker", tmp_path)
    assert "host" in str(caught.value)
    assert "nixpkgs" in str(caught.value)


def test_provider_kinds(tmp_path: Path) -> None:
    assert isinstance(toolchain_provider("host", tmp_path), HostToolchainProvider)
    nixpkgs = toolchain_provider("nixpkgs", tmp_path)
    assert isinstance(nixpkgs, NixpkgsToolchainProvider)
    assert "Rust 1." in nixpkgs.describe()


def test_nixexprs_dir_default_and_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert (NIXEXPRS_DIR / "shell.nix").is_file()
    assert NIXEXPRS_DIR.parent == Path(host.__file__).resolve().parents[2]
    monkeypatch.setenv("EMBLY_NIXEXPRS", str(tmp_path))
    assert find_nixexprs_dir() == tmp_path.resolve()
    with pytest.raises(EnvironmentProblem, match="EMBLY_NIXEXPRS"):
        toolchain_provider("host", tmp_path)


def test_every_nix_file_parses() -> None:
    nix_files = sorted(NIXEXPRS_DIR.rglob("*.nix"))
    assert {p.name for p in nix_files} >= {"shell.nix", "nixpkgs.nix"}
    for path in nix_files:
        result = subprocess.run(
            ["nix-instantiate", "--parse", str(path)], capture_output=True, text=True
        )
        assert result.returncode == 0, f"{path}: {result.stderr}"


def test_toolchain_is_hashable_and_read_only() -> None:
    toolchain = Toolchain("rust", "host", Path("/nix/store/x"), "ab", "wasm32-wasi", {"a": "1"})
    assert toolchain == Toolchain(
        "rust", "host", Path("/nix/store/x"), "ab", "wasm32-wasi", {"a": "1"}
    )
    assert len({toolchain, toolchain}) == 1
    with pytest.raises(TypeError):
        toolchain.versions["a"] = "2"  # type: ignore[index]


@pytest.mark.slow
async def test_nixpkgs_provider_that_cannot_fetch_says_to_use_host(tmp_path: Path) -> None:
    # The pins point at a local file that does not exist: nix fails to fetch exactly as it
    # does offline, without any traffic leaving this machine.
    nixexprs = tmp_path / "nixexprs"
    shutil.copytree(NIXEXPRS_DIR, nixexprs)
    pins_file = nixexprs / "toolchains" / "pins.json"
    pins = json.loads(pins_file.read_text())
    for name in ("nixpkgs", "rust-overlay"):
        pins[name]["url"] = f"file://{tmp_path}/missing-{name}.tar.gz"
    pins_file.write_text(json.dumps(pins))
    provider = NixpkgsToolchainProvider(tmp_path / "home", nixexprs)

    with pytest.raises(EnvironmentProblem) as caught:
        await provider.provision("rust")
    assert NETWORK_NEEDED in str(caught.value)
    assert "EMBLY_TOOLCHAINS=host" in str(caught.value)
