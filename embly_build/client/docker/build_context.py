"""The build context of the build server image: the Dockerfile and its helpers (shipped in
the package under embly_build/docker) and wheels/, holding embly-build's own wheel and the
wheels of its dependencies for the image's Python and the engine's architecture, fetched
here with pip. The image build then reaches no Python package index: a machine whose pip
works (an index, a proxy, PIP_FIND_LINKS) can build the image."""

from __future__ import annotations

import shutil
import sys
import tarfile
from pathlib import Path

from embly_build.client.docker.own_wheel import build_own_wheel, run_pip
from embly_build.errors import EnvironmentProblem

DOCKER_DIR = Path(__file__).resolve().parents[2] / "docker"
CONTEXT_FILES = ("Dockerfile", "healthcheck.py")
# The python3 of the default base image, debian:bookworm-slim; the wheels are for it.
IMAGE_PYTHON = "3.11"
# Docker's name for the engine's machine -> pip's platform tag of its wheels.
_WHEEL_PLATFORMS = {
    "x86_64": "manylinux2014_x86_64",
    "amd64": "manylinux2014_x86_64",
    "aarch64": "manylinux2014_aarch64",
    "arm64": "manylinux2014_aarch64",
}


def wheel_platform(architecture: str) -> str:
    try:
        return _WHEEL_PLATFORMS[architecture]
    except KeyError:
        raise EnvironmentProblem(
            f"the Docker engine runs on {architecture}; the build server image is made for "
            f"{', '.join(sorted(set(_WHEEL_PLATFORMS)))} only"
        ) from None


async def write_build_context(directory: Path, architecture: str) -> None:
    """Fill `directory` (empty) with the image's build context."""
    for name in CONTEXT_FILES:
        shutil.copyfile(DOCKER_DIR / name, directory / name)
    wheels = directory / "wheels"
    own = await build_own_wheel(wheels)
    abi = "cp" + IMAGE_PYTHON.replace(".", "")
    await run_pip(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--dest",
            str(wheels),
            "--only-binary=:all:",
            "--platform",
            wheel_platform(architecture),
            "--python-version",
            IMAGE_PYTHON,
            "--implementation",
            "cp",
            "--abi",
            abi,
            str(own),
        ],
        what="fetching the wheels of embly-build's dependencies for the image",
    )


def pack_context(directory: Path, archive: Path) -> None:
    """The context as the gzipped tar the engine takes (aiodocker sends no plain tar), owned
    by root, times kept out; the wheels are compressed already, so gzip's fastest level."""

    def neutral(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = 0
        return info

    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        for path in sorted(directory.rglob("*")):
            tar.add(
                path,
                arcname=path.relative_to(directory).as_posix(),
                recursive=False,
                filter=neutral,
            )
