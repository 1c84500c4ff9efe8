"""What the Docker tests stand on: a real Docker engine (this machine's, else a dockerd
started for the session and stopped after it) and the base image debian:bookworm-slim,
made without a registry by .ci/fresh_machine/base_image.sh."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKER = "/usr/bin/docker"  # the CLI of the engine's version (see ENVIRONMENT: Docker)
HOST_PACKAGES = ("docker.io", "debootstrap")


def _engine_answers() -> bool:
    if not Path(DOCKER).exists():
        return False
    return subprocess.run([DOCKER, "info"], capture_output=True).returncode == 0


def _installed(package: str) -> bool:
    status = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True
    )
    return status.stdout.endswith("install ok installed")


def _install_host_packages() -> None:
    missing = [package for package in HOST_PACKAGES if not _installed(package)]
    if not missing:
        return
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock = ("-o", "DPkg::Lock::Timeout=600")
    subprocess.run(["apt-get", "update", "-q", *lock], check=True, capture_output=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *lock, *missing],
        check=True,
        capture_output=True,
        env=environment,
    )


@contextlib.contextmanager
def _dockerd(log: Path) -> Iterator[None]:
    with log.open("wb") as log_file:
        daemon = subprocess.Popen(
            ["dockerd"],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while not _engine_answers():
            assert daemon.poll() is None, f"dockerd exited at start: {log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"dockerd did not answer: {log.read_text()}"
            time.sleep(0.5)
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(daemon.pid, signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[None]:
    """A Docker engine that answers, with debian:bookworm-slim in it."""
    with contextlib.ExitStack() as stack:
        if not _engine_answers():
            if os.geteuid() != 0:
                pytest.skip("no Docker engine answers, and starting one needs root")
            _install_host_packages()
            directory = Path(tempfile.mkdtemp(prefix="embly-test-dockerd-"))
            stack.callback(shutil.rmtree, directory, ignore_errors=True)
            stack.enter_context(_dockerd(directory / "dockerd.log"))
        if not shutil.which("debootstrap") and os.geteuid() == 0:
            _install_host_packages()
        subprocess.run(
            [str(REPO / ".ci" / "fresh_machine" / "base_image.sh")],
            env={**os.environ, "DOCKER": DOCKER},
            check=True,
            capture_output=True,
        )
        yield
