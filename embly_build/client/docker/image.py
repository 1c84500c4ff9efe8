"""The build server's image: found by a tag that names its content, else built.

The tag is `embly-build:<version>-<digest>`, the digest covering the Dockerfile and its
helpers, the code the wheel is made of, the base image and the wheels' target: an image of
the same tag is the same image, and a changed Dockerfile or package makes another. The
build streams its output lines to a callback; a failed step raises ImageBuildFailed naming
the step and its last lines.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiodocker

from embly_build.client.docker.build_context import (
    CONTEXT_FILES,
    DOCKER_DIR,
    IMAGE_PYTHON,
    pack_context,
    wheel_platform,
    write_build_context,
)
from embly_build.client.docker.engine import docker_host, engine_problem
from embly_build.client.docker.own_wheel import source_digest, version
from embly_build.errors import ImageBuildFailed

REPOSITORY = "embly-build"
DEFAULT_BASE = "debian:bookworm-slim"
LABEL = "dev.embly.build.image"  # its value: the tag the image was built under
_TAIL_LINES = 25
KEPT_EARLIER_IMAGES = 1  # besides the current one and those containers use

ProgressSink = Callable[[str], None]


@dataclass(frozen=True)
class ServerImage:
    tag: str
    id: str
    built: bool  # False when an image of the tag was there already


def image_tag(architecture: str, base: str = DEFAULT_BASE) -> str:
    digest = hashlib.sha256()
    for name in CONTEXT_FILES:
        digest.update(name.encode() + b"\0" + (DOCKER_DIR / name).read_bytes() + b"\0")
    target = f"{base}\0{IMAGE_PYTHON}\0{wheel_platform(architecture)}\0{source_digest()}"
    digest.update(target.encode())
    return f"{REPOSITORY}:{version()}-{digest.hexdigest()[:16]}"


async def find_or_build_image(
    docker: aiodocker.Docker,
    *,
    base: str = DEFAULT_BASE,
    on_progress: ProgressSink | None = None,
) -> ServerImage:
    """The image of this embly-build, built first when the engine does not have it."""
    architecture = str((await docker.system.info())["Architecture"])
    tag = image_tag(architecture, base)
    found = await _inspect(docker, tag)
    if found is not None:
        return ServerImage(tag, str(found["Id"]), built=False)
    sink = on_progress or (lambda line: None)
    with tempfile.TemporaryDirectory(prefix="embly-image-") as temp:
        context = Path(temp) / "context"
        context.mkdir()
        sink(
            f"building the image {tag} (once per version of embly-build; it takes minutes): "
            "preparing its context (embly-build's wheel and its dependencies)"
        )
        await write_build_context(context, architecture)
        archive = Path(temp) / "context.tar.gz"
        pack_context(context, archive)
        with archive.open("rb") as fileobj:
            await _build(docker, fileobj, tag, base, sink)
    built = await _inspect(docker, tag)
    if built is None:
        raise ImageBuildFailed(f"the Docker engine reported building {tag}, but has no such image")
    await _remove_unused_older(docker, tag, sink)
    return ServerImage(tag, str(built["Id"]), built=True)


async def _remove_unused_older(docker: aiodocker.Docker, tag: str, sink: ProgressSink) -> None:
    """Remove the images of earlier builds (another version, or a changed Dockerfile) that
    no container uses: each is over a gigabyte, and nothing else ever removes them. The
    newest of them stays, so two installed versions of embly used in turn do not rebuild
    each other's image every time."""
    images = await docker.images.list(filters={"label": [LABEL]})
    earlier = [
        image
        for image in sorted(images, key=lambda image: int(image.get("Created") or 0))
        if tag not in (image.get("RepoTags") or [])
    ]
    for image in earlier[:-KEPT_EARLIER_IMAGES]:
        tags = [t for t in image.get("RepoTags") or [] if t != "<none>:<none>"]
        if not tags:
            continue
        try:
            for old in tags:
                await docker.images.delete(old)
        except aiodocker.DockerError as error:
            if error.status in (404, 409):  # gone meanwhile, or a container uses it
                continue
            raise
        sink(f"removed the earlier image {', '.join(tags)}, which no container uses")


async def _inspect(docker: aiodocker.Docker, tag: str) -> Mapping[str, Any] | None:
    try:
        return await docker.images.inspect(tag)
    except aiodocker.DockerError as error:
        if error.status == 404:
            return None
        raise engine_problem(error, docker_host()) from error


class _BuildOutput:
    """The build's output split into lines, remembering the step running and its lines."""

    def __init__(self, sink: ProgressSink) -> None:
        self._sink = sink
        self._partial = ""
        self.step = "before the first step"
        self.tail: deque[str] = deque(maxlen=_TAIL_LINES)

    def feed(self, text: str) -> None:
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            self._line(line.rstrip("\r"))

    def flush(self) -> None:
        if self._partial:
            self._line(self._partial)
            self._partial = ""

    def _line(self, line: str) -> None:
        if line.startswith("Step "):
            self.step = line
            self.tail.clear()
        elif line.strip():
            self.tail.append(line)
        self._sink(line)


async def _build(
    docker: aiodocker.Docker, fileobj: Any, tag: str, base: str, sink: ProgressSink
) -> None:
    output = _BuildOutput(sink)
    try:
        async for message in docker.images.build(
            fileobj=fileobj,
            encoding="gzip",
            tag=tag,
            buildargs={"BASE": base},
            labels={LABEL: tag},
            forcerm=True,
            stream=True,
        ):
            if "stream" in message:
                output.feed(str(message["stream"]))
            elif "status" in message:
                output.feed(f"{message['status']}\n")
            if "error" in message:
                output.flush()
                raise _failed(tag, output, str(message["error"]))
    except aiodocker.DockerError as error:
        output.flush()
        if error.status == 900:  # no connection: the engine went away
            raise engine_problem(error, docker_host()) from error
        raise _failed(tag, output, error.message) from error
    output.flush()


def _failed(tag: str, output: _BuildOutput, error: str) -> ImageBuildFailed:
    tail = "\n".join(f"  {line}" for line in output.tail) or "  (no output)"
    return ImageBuildFailed(
        f"building the image {tag} failed at {output.step}\n{error.strip()}\n"
        f"its last output lines:\n{tail}"
    )
