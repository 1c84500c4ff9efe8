"""`embly setup`: the first-run flow. It finds the project (embly.hcl, when there is one)
and what works here (Nix, Docker), chooses where builds run (asked on a terminal; taken
from --executor; without a terminal chosen from what works, never waiting for input),
writes the choice to the user config, then prepares it with progress."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w
from rich.markup import escape
from rich.table import Table

from embly_build.cli.commands.setup_choice import (
    CHOICES,
    MEANINGS,
    NIX,
    OTHER_WAYS,
    Choice,
    ask_address,
    ask_executor,
    check_usable,
    chosen_without_terminal,
    default_choice,
    line_reader,
    not_usable,
)
from embly_build.cli.commands.setup_detect import (
    Machine,
    ProjectFound,
    detect_machine,
    find_project,
)
from embly_build.cli.commands.setup_prepare import Progress, prepare
from embly_build.cli.connect import DOCKER, REMOTE
from embly_build.cli.options import TlsOptions
from embly_build.cli.terminal.console import OutputConsole
from embly_build.client.config.user_config import UserConfig, load_user_config
from embly_build.client.config.user_config_writer import Value, update_user_config
from embly_build.errors import EmblyError, UsageError
from embly_build.home import config_file

# Both TlsOptions' fields and the user config's keys.
_TLS_KEYS = ("tls_ca", "tls_cert", "tls_key", "token_file")

_READY = {
    NIX: "`embly build` and `embly watch` build on this machine with Nix",
    DOCKER: "`embly build` and `embly watch` build in this user's build server container",
    REMOTE: "`embly build` and `embly watch` build on the remote build server",
}


@dataclass(frozen=True)
class SetupOptions:
    executor: str | None = None
    remote: str | None = None
    project: Path | None = None
    tls: TlsOptions = field(default_factory=TlsOptions)
    verbose: bool = False


def run_setup(options: SetupOptions) -> int:
    executor = _executor_flag(options)
    config = config_file()
    user = load_user_config(config)  # a broken config stops here, before anything is asked
    console = OutputConsole(highlight=False, soft_wrap=True)
    project = find_project(options.project)
    machine = detect_machine()
    _show_findings(console, project, machine)
    terminal = _stdin_is_terminal()
    configured = user.executor or (REMOTE if user.remote else None)
    if executor is not None:
        check_usable(executor, machine)
    elif terminal:
        _show_choices(console, machine)
        with _answer_needed():
            executor = ask_executor(line_reader, machine, default_choice(machine, configured))
    else:
        choice = chosen_without_terminal(machine, configured, remote_known=bool(user.remote))
        console.print(_chosen_text(choice))
        executor = choice.executor
    changes: dict[str, Value | None] = {"executor": executor}
    if executor == REMOTE:
        with _answer_needed():
            changes |= _remote_settings(options, user, terminal)
    update_user_config(config, changes)
    written = ", ".join(tomli_w.dumps({key: value}).strip() for key, value in changes.items())
    console.print(f"wrote {escape(written)} to {escape(str(config))}")
    progress = Progress(console, verbose=options.verbose)
    try:
        asyncio.run(prepare(executor, project.runtimes, progress))
    except EmblyError:
        console.print(
            f'executor = "{executor}" stays saved in {escape(str(config))}, but it is not '
            "ready: once the error below is fixed, `embly setup` tries again"
        )
        raise
    console.print(f"[green]ready:[/green] {_READY[executor]}")
    return 0


def _executor_flag(options: SetupOptions) -> str | None:
    """--executor, checked; --remote or a TLS or token flag alone means remote."""
    executor = options.executor
    if executor is not None and executor not in CHOICES:
        raise UsageError(f"unknown executor {executor!r}; choose one of {', '.join(CHOICES)}")
    if options.remote is not None and executor not in (None, REMOTE):
        raise UsageError(
            f"--executor {executor} and --remote contradict each other: --remote ADDR"
            " builds on the server at ADDR; give one of them"
        )
    if options.remote is not None:
        return REMOTE
    given = _tls_flags(options.tls)
    if given and executor not in (None, REMOTE):
        raise UsageError(
            f"{', '.join(given)} connect to a remote server: add --executor remote, or drop them"
        )
    return REMOTE if given else executor


@contextlib.contextmanager
def _answer_needed() -> Iterator[None]:
    """The end of input (Ctrl-D) where an answer was needed: nothing is written."""
    try:
        yield
    except EOFError:
        raise UsageError(
            "no answer (end of input), so nothing was written; run `embly setup` again, or "
            f"choose without being asked: {OTHER_WAYS}"
        ) from None


def _stdin_is_terminal() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def _show_findings(console: OutputConsole, project: ProjectFound, machine: Machine) -> None:
    console.print(f"project  {escape(_project_text(project))}")
    console.print(f"Nix      {escape(machine.nix.detail)}")
    console.print(f"Docker   {escape(machine.docker.detail)}")


def _project_text(project: ProjectFound) -> str:
    if project.config_file is None:
        return "no embly.hcl here or above: the choice is this user's, for every project"
    if project.problem:
        return f"{project.config_file} cannot be read ({project.problem}); every toolchain is made"
    names = ", ".join(project.functions) or "none yet"
    return f"{project.config_file} (functions: {names})"


def _show_choices(console: OutputConsole, machine: Machine) -> None:
    """Each choice, what it means, and what stops it here; the meanings wrap in a column."""
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True, style="bold")
    table.add_column()
    for number, executor in enumerate(CHOICES, 1):
        meaning = escape(MEANINGS[executor])
        problem = not_usable(executor, machine)
        if problem is not None:
            meaning += f" [yellow]Not here: {escape(problem)}.[/yellow]"
        table.add_row(f"  {number}.", executor, meaning)
    console.print("\nWhere should builds run?")
    console.print(table, soft_wrap=False)


def _chosen_text(choice: Choice) -> str:
    others = " or ".join(other for other in CHOICES if other != choice.executor)
    return (
        f"no terminal to ask on: chose {choice.executor}, since {choice.reason} "
        f"(--executor {others} chooses otherwise)"
    )


def _remote_settings(options: SetupOptions, user: UserConfig, terminal: bool) -> dict[str, Value]:
    """The remote server's address and the credentials given as flags, checked before
    anything is written (the files must be usable)."""
    from embly_build.transport.address import parse_address
    from embly_build.transport.client_credentials import client_credentials

    tls = options.tls
    chosen = TlsOptions(
        tls_ca=tls.tls_ca or user.tls_ca,
        tls_cert=tls.tls_cert or user.tls_cert,
        tls_key=tls.tls_key or user.tls_key,
        token_file=tls.token_file or user.token_file,
    )

    def check(address: str) -> None:
        parsed = parse_address(address)
        if parsed.kind == "inproc":
            raise UsageError("inproc is this process: choose nix to build here")
        client_credentials(
            parsed,
            tls_ca=chosen.tls_ca,
            tls_cert=chosen.tls_cert,
            tls_key=chosen.tls_key,
            token_file=chosen.token_file,
        )

    address = options.remote
    if address is None and terminal:
        address = ask_address(line_reader, check, user.remote)
    elif address is None:
        if not user.remote:
            raise UsageError(
                "--executor remote needs the build server's address, and there is no terminal "
                "to ask on: give --remote ADDR (HOST:PORT or unix:/path/to/sock)"
            )
        address = user.remote
    check(address)
    settings: dict[str, Value] = {"remote": address}
    for key in _TLS_KEYS:
        value = getattr(tls, key)
        if value is not None:
            settings[key] = str(value.expanduser().absolute())
    return settings


def _tls_flags(tls: TlsOptions) -> list[str]:
    """The TLS and token flags given."""
    return ["--" + key.replace("_", "-") for key in _TLS_KEYS if getattr(tls, key) is not None]
