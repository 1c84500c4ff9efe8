"""Which build server `--executor` (or the user config's `executor`) asks for."""

from __future__ import annotations

from pathlib import Path

import pytest

from embly_build.cli.connect import DOCKER_ADDRESS, resolve
from embly_build.cli.options import ClientOptions, TlsOptions
from embly_build.errors import ConfigError, UsageError
from embly_build.server.executors import DEFAULT_EXECUTOR


@pytest.fixture(autouse=True)
def no_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBLY_CONFIG", str(tmp_path / "config.toml"))


def test_the_default_is_an_in_process_server_with_the_default_executor() -> None:
    resolved = resolve(ClientOptions())
    assert resolved.address == "inproc"
    assert resolved.settings is not None and resolved.settings.executor == DEFAULT_EXECUTOR


def test_an_unknown_executor_lists_the_choices() -> None:
    with pytest.raises(UsageError, match="unknown executor 'podman'; choose one of nix, docker"):
        resolve(ClientOptions(executor="podman"))


def test_docker_is_a_server_in_a_container_found_when_the_client_connects() -> None:
    resolved = resolve(ClientOptions(executor="docker", jobs=3))
    assert resolved.address == DOCKER_ADDRESS
    assert resolved.settings is None, "nothing builds in this process"
    assert resolved.docker_jobs == 3, "--jobs goes to the container's server"
    assert resolved.notice == "", "chosen by the user: nothing to explain"


def test_an_unknown_executor_in_the_user_config_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('executor = "podman"\n')
    with pytest.raises(ConfigError, match=r"config.toml: unknown executor 'podman'"):
        resolve(ClientOptions())


def test_credentials_for_the_docker_executor_are_a_usage_error(tmp_path: Path) -> None:
    options = ClientOptions(executor="docker", tls=TlsOptions(token_file=tmp_path / "t"))
    with pytest.raises(UsageError, match="drop them to build in the Docker container"):
        resolve(options)


def test_remote_credentials_come_from_flags_else_the_user_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "conf" / "config.toml"
    config.parent.mkdir()
    config.write_text(  # a remote server and no executor: that server
        'remote = "build.example:9276"\ntls_ca = "ca.pem"\ntoken_file = "~/embly-token"\n'
    )
    monkeypatch.setenv("EMBLY_CONFIG", str(config))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    resolved = resolve(ClientOptions())
    assert resolved.address == "build.example:9276"
    assert resolved.tls.tls_ca == config.parent / "ca.pem", "relative to the config file"
    assert resolved.tls.token_file == tmp_path / "home" / "embly-token"
    flag = tmp_path / "other-ca.pem"
    assert resolve(ClientOptions(tls=TlsOptions(tls_ca=flag))).tls.tls_ca == flag
    # An in-process build ignores the config's remote credentials
    assert resolve(ClientOptions(executor="nix")).tls == TlsOptions()


def test_credentials_for_an_in_process_build_are_a_usage_error(tmp_path: Path) -> None:
    options = ClientOptions(tls=TlsOptions(tls_ca=tmp_path / "ca.pem", token_file=tmp_path / "t"))
    with pytest.raises(UsageError, match="--tls-ca, --token-file connect to a remote server"):
        resolve(options)
