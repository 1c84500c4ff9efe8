"""Which executor `embly setup` writes: asked on a terminal, chosen without one.

A choice is "usable" when what it needs is installed (a Docker engine that is installed
but not running is usable: preparing it says how to start it), and "works" when it was
seen working. The default on a terminal is the configured executor when it works, else
Nix when it works, else Docker; without a terminal only a choice that works is made.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

from embly_build.cli.commands.setup_detect import Machine
from embly_build.cli.connect import CHOICES as CLIENT_CHOICES
from embly_build.cli.connect import DOCKER, REMOTE
from embly_build.errors import EnvironmentProblem, UsageError
from embly_build.server.executors import DEFAULT_EXECUTOR

NIX = DEFAULT_EXECUTOR
CHOICES: tuple[str, ...] = tuple(dict.fromkeys(CLIENT_CHOICES))  # nix, docker, remote
MEANINGS = {
    NIX: "builds run on this machine, each in `nix-shell --pure` with the pinned "
    "toolchains: nothing else to run, and the quickest. Needs Nix.",
    DOCKER: "builds run in a long-lived container of yours that has Nix: its image is "
    "built here once, its build server listens on loopback only and asks for a token. "
    "For a machine without Nix. Needs Docker.",
    REMOTE: "builds run on a build server elsewhere (`embly serve`), reached over gRPC, "
    "with TLS and a token beyond this machine. Needs its address.",
}
_NAMES = {NIX: "Nix", DOCKER: "Docker"}
OTHER_WAYS = "--executor nix, --executor docker or --executor remote --remote ADDR"

Ask = Callable[[str], str]  # shows a prompt, returns the line typed (EOFError at end of input)


@dataclass(frozen=True)
class Choice:
    executor: str
    reason: str = ""  # why it was chosen, when nobody was asked


def not_usable(executor: str, machine: Machine) -> str | None:
    """Why `executor` cannot be chosen on this machine, or None."""
    found = {NIX: machine.nix, DOCKER: machine.docker}.get(executor)
    if found is None or found.installed:
        return None
    return f"{_NAMES[executor]} is {found.detail}"


def works(executor: str, machine: Machine, *, remote_known: bool) -> bool:
    if executor == NIX:
        return machine.nix.works
    if executor == DOCKER:
        return machine.docker.works
    return remote_known


def default_choice(machine: Machine, configured: str | None) -> str | None:
    """What Enter chooses on a terminal; None when nothing here is a sensible default."""
    if configured in CHOICES and works(configured, machine, remote_known=True):
        return configured
    for executor in (NIX, DOCKER):
        if works(executor, machine, remote_known=False):
            return executor
    return DOCKER if machine.docker.installed else None


def chosen_without_terminal(
    machine: Machine, configured: str | None, *, remote_known: bool
) -> Choice:
    """The choice made for a user who cannot be asked: the configured executor if it
    works, else Nix, else Docker, when it works; else a UsageError naming the flag."""
    if configured in CHOICES and works(configured, machine, remote_known=remote_known):
        return Choice(configured, f"it is the configured executor, and {_working(configured)}")
    for executor in (NIX, DOCKER):
        if works(executor, machine, remote_known=False):
            return Choice(executor, _working(executor))
    raise UsageError(
        "no terminal to ask on, and neither Nix nor Docker works here "
        f"(Nix: {machine.nix.detail}; Docker: {machine.docker.detail}): make one work and "
        "run `embly setup` again, or build on a server: --executor remote --remote ADDR"
    )


def _working(executor: str) -> str:
    if executor == REMOTE:
        return "its server's address is configured"
    return f"{_NAMES[executor]} works here"


def check_usable(executor: str, machine: Machine) -> None:
    """An executor given with --executor must at least be installed."""
    problem = not_usable(executor, machine)
    if problem is not None:
        others = " or ".join(f"--executor {other}" for other in CHOICES if other != executor)
        raise EnvironmentProblem(f"--executor {executor}: {problem}; or choose {others}")


def ask_executor(ask: Ask, machine: Machine, default: str | None) -> str:
    """Ask until the answer names a usable choice (a name, its first letters, or its
    number in the list); Enter takes the default."""
    shown = f" [{default}]" if default else ""
    while True:
        answer = ask(f"Build with ({', '.join(CHOICES)}){shown}: ").strip().lower()
        executor = default if not answer else _named(answer)
        if executor is None:
            _say(_wrong_answer(answer))
            continue
        problem = not_usable(executor, machine)
        if problem is None:
            return executor
        others = ", ".join(other for other in CHOICES if other != executor)
        _say(f"{problem}; install it, or choose {others}")


def _named(answer: str) -> str | None:
    if answer.isdigit() and 1 <= int(answer) <= len(CHOICES):
        return CHOICES[int(answer) - 1]
    matches = [choice for choice in CHOICES if choice.startswith(answer)]
    return matches[0] if len(matches) == 1 else None


def _wrong_answer(answer: str) -> str:
    names = ", ".join(CHOICES[:-1]) + f" or {CHOICES[-1]}"
    if not answer:
        return f"there is no default here: type {names}"
    return f"{answer!r} is not a choice: type {names}"


def ask_address(ask: Ask, check: Callable[[str], None], default: str | None) -> str:
    """Ask for the build server's address until `check` accepts it (it raises UsageError
    saying what is wrong)."""
    shown = f" [{default}]" if default else ""
    while True:
        answer = ask(f"Build server address (HOST:PORT or unix:/path/to/sock){shown}: ").strip()
        address = answer or default
        if not address:
            _say("the address is needed: the host and port `embly serve` listens on")
            continue
        try:
            check(address)
        except UsageError as error:
            _say(str(error))
            continue
        return address


def _say(text: str) -> None:
    print(text, flush=True)


def line_reader(prompt: str) -> str:
    """`input`, with the prompt flushed first and Ctrl-C leaving the terminal on a new line."""
    sys.stdout.flush()
    try:
        return input(prompt)
    except (KeyboardInterrupt, EOFError):
        print(flush=True)
        raise
