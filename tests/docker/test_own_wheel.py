"""embly-build's own wheel, which the build server image installs: made from a checkout with
pip, or packed again from an installed embly-build; either way it holds the image's
Dockerfile, so a pip-installed embly can build its image."""

from __future__ import annotations

import subprocess
import textwrap
import zipfile
from pathlib import Path

import pytest

from embly_build.client.docker.own_wheel import build_own_wheel, checkout_root
from tests.installs.conftest import REPO, InstalledWheel, installed_wheel, isolated_environment

__all__ = ["installed_wheel"]  # the fixture, for the test below

IMAGE_CONTEXT = ("embly_build/docker/Dockerfile", "embly_build/docker/healthcheck.py")


async def test_the_wheel_of_a_checkout_holds_the_image_context(tmp_path: Path) -> None:
    assert checkout_root() == REPO
    wheel = await build_own_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    assert set(IMAGE_CONTEXT) <= names
    assert "embly_build/client/docker/image.py" in names
    assert not [name for name in names if "__pycache__" in name]


@pytest.mark.slow
def test_an_installed_embly_packs_the_wheel_it_came_from(
    installed_wheel: InstalledWheel, tmp_path: Path
) -> None:
    script = textwrap.dedent(
        """
        import asyncio, sys
        from pathlib import Path
        from embly_build.client.docker.own_wheel import build_own_wheel, checkout_root
        assert checkout_root() is None
        print(asyncio.run(build_own_wheel(Path(sys.argv[1]))))
        """
    )
    packed = subprocess.run(
        [str(installed_wheel.venv / "bin" / "python"), "-c", script, str(tmp_path)],
        cwd=tmp_path,
        env=isolated_environment(),
        capture_output=True,
        text=True,
    )
    assert packed.returncode == 0, packed.stderr
    original = zipfile.ZipFile(installed_wheel.wheel)
    again = zipfile.ZipFile(packed.stdout.strip())
    assert set(again.namelist()) == set(original.namelist())
    assert set(IMAGE_CONTEXT) <= set(again.namelist())
    for name in original.namelist():
        if not name.endswith("/RECORD"):
            assert again.read(name) == original.read(name), name

    venv = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", str(venv)], check=True)
    installed = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", packed.stdout.strip()],
        capture_output=True,
        text=True,
    )
    assert installed.returncode == 0, installed.stderr
    assert (venv / "bin" / "embly").exists()
