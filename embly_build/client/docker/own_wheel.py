"""embly-build's own wheel, made from the code that is running, for the build server image.

From a checkout (a pyproject.toml naming embly-build beside the package), pip builds the
wheel from a copy of the package and its project files, so the checkout gets no build/
folder and no stale file of one gets in. From an installed embly-build (pip, pipx), the
installed files are packed again as the wheel they came from, following its RECORD: no
source, no build tool and no network are needed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import shutil
import sys
import tempfile
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path, PurePosixPath

from embly_build.errors import EnvironmentProblem

DISTRIBUTION = "embly-build"
PACKAGE_DIR = Path(__file__).resolve().parents[2]
_PROJECT_FILES = ("pyproject.toml", "README.md")
# The time a zip entry carries when none is given: the earliest a zip file can hold.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
# Files of an installed distribution that pip wrote, not the wheel.
_INSTALLER_FILES = ("INSTALLER", "REQUESTED", "direct_url.json", "RECORD")


def version() -> str:
    return metadata.version(DISTRIBUTION)


def checkout_root() -> Path | None:
    """The checkout the running package lives in; None for an installed package."""
    pyproject = PACKAGE_DIR.parent / "pyproject.toml"
    try:
        project = tomllib.loads(pyproject.read_text()).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return PACKAGE_DIR.parent if project.get("name") == DISTRIBUTION else None


def source_digest() -> str:
    """sha256 over what the wheel is made of: the package's files (compiled bytecode aside)
    and the project's metadata, without building it."""
    digest = hashlib.sha256()
    root = checkout_root()
    if root is not None:
        extra = [(name, (root / name).read_bytes()) for name in _PROJECT_FILES]
    else:
        installed = metadata.distribution(DISTRIBUTION).read_text("METADATA") or ""
        extra = [("METADATA", installed.encode())]
    for path in sorted(_package_files()):
        _add(digest, path.relative_to(PACKAGE_DIR).as_posix(), path.read_bytes())
    for name, content in extra:
        _add(digest, name, content)
    return digest.hexdigest()


async def build_own_wheel(directory: Path) -> Path:
    """Write embly-build's wheel into `directory`; its path."""
    directory.mkdir(parents=True, exist_ok=True)
    root = checkout_root()
    if root is None:
        return _repack_installed(directory)
    with tempfile.TemporaryDirectory(prefix="embly-wheel-source-") as temp:
        source = Path(temp)
        for name in _PROJECT_FILES:
            shutil.copy2(root / name, source / name)
        shutil.copytree(
            PACKAGE_DIR,
            source / PACKAGE_DIR.name,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        argv = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(directory)]
        await run_pip([*argv, str(source)], what=f"building the wheel of {root}")
    return _one_wheel(directory)


async def run_pip(argv: list[str], *, what: str) -> None:
    """Run a pip command to completion; its last lines in an EnvironmentProblem if it fails."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await process.communicate()
    except BaseException:
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    if process.returncode != 0:
        lines = output.decode(errors="replace").splitlines()
        tail = "\n".join(line for line in lines if "is ignored" not in line)[-3000:]
        raise EnvironmentProblem(
            f"{what} failed (pip exited with {process.returncode}):\n{tail}\n"
            "pip needs to reach a package index (or PIP_FIND_LINKS a folder of wheels)"
        )


def _package_files() -> list[Path]:
    return [
        path
        for path in PACKAGE_DIR.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    ]


def _add(digest: hashlib._Hash, name: str, content: bytes) -> None:
    digest.update(f"{name}\0{len(content)}\0".encode())
    digest.update(content)


def _one_wheel(directory: Path) -> Path:
    wheels = sorted(directory.glob("embly_build-*.whl"))
    if len(wheels) != 1:
        raise EnvironmentProblem(f"expected one embly_build wheel in {directory}, found {wheels}")
    return wheels[0]


def _repack_installed(directory: Path) -> Path:
    distribution = metadata.distribution(DISTRIBUTION)
    files = [
        PurePosixPath(str(file))
        for file in distribution.files or []
        if not str(file).startswith("..")
        and "__pycache__" not in PurePosixPath(str(file)).parts
        and not (
            PurePosixPath(str(file)).parent.name.endswith(".dist-info")
            and PurePosixPath(str(file)).name in _INSTALLER_FILES
        )
    ]
    dist_info = next(
        (file.parent for file in files if file.parent.name.endswith(".dist-info")), None
    )
    if dist_info is None:
        raise EnvironmentProblem(
            f"the installed {DISTRIBUTION} lists no .dist-info files: reinstall it with pip"
        )
    wheel = directory / f"embly_build-{distribution.version}-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(files):
            content = Path(str(distribution.locate_file(file))).read_bytes()
            entry = zipfile.ZipInfo(str(file), _ZIP_EPOCH)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, content)
            hashed = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=")
            record.append(f"{file},sha256={hashed.decode()},{len(content)}")
        record.append(f"{dist_info}/RECORD,,")
        entry = zipfile.ZipInfo(f"{dist_info}/RECORD", _ZIP_EPOCH)
        entry.external_attr = 0o644 << 16
        archive.writestr(entry, "\n".join(record) + "\n")
    return wheel
