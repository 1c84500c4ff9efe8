"""Getting the chosen executor ready, with progress: Nix's toolchains provisioned, or the
Docker image built and this user's build server container started, or the remote server
asked whether it answers. Each is resolved from the user config just written, exactly as
`embly build` will resolve it, so what is prepared is what the next build uses."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from rich.console import Console
from rich.markup import escape
from rich.status import Status

from embly_build.cli.connect import DOCKER, REMOTE, Resolved, connected_client, resolve
from embly_build.cli.options import ClientOptions
from embly_build.cli.terminal.render import setup_line_shown, setup_text
from embly_build.client.session.events import ServerSetup
from embly_build.protocol import pb
from embly_build.server.runtimes import RUNTIMES
from embly_build.server.toolchains import toolchain_provider

_VERSIONS_SHOWN = ("rustc", "cargo")


class Progress:
    """Lines that stay (what was done) and, on a terminal, a spinner with the line of
    work under way; without a terminal, or with --verbose, every line is printed."""

    def __init__(self, console: Console, *, verbose: bool) -> None:
        self._console = console
        self._verbose = verbose
        self._status: Status | None = None

    @contextlib.contextmanager
    def working(self, text: str) -> Iterator[None]:
        if not self._console.is_terminal:
            self.done(text)
            yield
            return
        with self._console.status(escape(text)) as status:
            self._status = status
            try:
                yield
            finally:
                self._status = None

    def done(self, text: str) -> None:
        self._console.print(escape(text))

    def detail(self, text: str) -> None:
        if self._verbose:
            self._console.print(f"[dim]{escape(text)}[/dim]")
        elif self._status is not None:
            self._status.update(escape(text))


async def prepare(executor: str, runtimes: Sequence[str], progress: Progress) -> None:
    """Prepare `executor` as the user config now names it: EmblyError when it cannot be."""
    resolved = resolve(ClientOptions())
    if executor == DOCKER:
        await _start_container(resolved, progress)
    elif executor == REMOTE:
        await _ask_server(resolved, progress)
    else:
        await _provision_toolchains(resolved, runtimes or tuple(RUNTIMES), progress)


async def _provision_toolchains(
    resolved: Resolved, runtimes: Sequence[str], progress: Progress
) -> None:
    settings = resolved.settings
    assert settings is not None, "a Nix executor's server runs in this process"
    provider = toolchain_provider(settings.toolchains, settings.home)
    progress.done(f"toolchains: {provider.describe()}")
    for runtime in runtimes:
        with progress.working(f"provisioning the {runtime} toolchain"):
            toolchain = await provider.provision(runtime, on_log=progress.detail)
        versions = [
            toolchain.versions[tool] for tool in _VERSIONS_SHOWN if tool in toolchain.versions
        ]
        progress.done(f"{runtime} toolchain ready: {toolchain.store_path}")
        progress.done(f"  target {toolchain.wasm_target}; {', '.join(versions)}")


async def _start_container(resolved: Resolved, progress: Progress) -> None:
    def on_setup(event: ServerSetup) -> None:
        if setup_line_shown(event):
            progress.done(setup_text(event))
        else:
            progress.detail(setup_text(event))

    with progress.working("getting the build server container ready"):
        async with connected_client(ClientOptions(), resolved, on_setup=on_setup) as client:
            info = await client.server_info()
    progress.done(f"the build server in the container answers: {_describe(info)}")


async def _ask_server(resolved: Resolved, progress: Progress) -> None:
    with progress.working(f"asking the build server at {resolved.address}"):
        async with connected_client(ClientOptions(), resolved) as client:
            info = await client.server_info()
    progress.done(f"the build server at {resolved.address} answers: {_describe(info)}")


def _describe(info: pb.ServerInfo) -> str:
    toolchains = ", ".join(f"{t.runtime} ({t.provider})" for t in info.toolchains)
    text = f"embly-build {info.server_version} on {info.platform}, executor {info.executor}"
    return text + (f"; toolchains {toolchains}" if toolchains else "")
