"""The `embly` command line. Exit codes: 0 ok, 1 a build failed, 2 usage or configuration,
3 the build server cannot be reached or was lost (cli/exit_codes.py).

Each command imports what it runs when it runs: `embly run` and `--help` need neither
asyncio nor the client, protocol and server stack, and start in a fraction of the time.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from embly_build.cli import exit_codes
from embly_build.cli.help_text import reflowed
from embly_build.cli.options import ClientOptions, TlsOptions
from embly_build.cli.process_exit import exit_at_once, exit_code_of
from embly_build.errors import EmblyError, UsageError
from embly_build.server.executors import DEFAULT_EXECUTOR, EXECUTORS

app = typer.Typer(
    name="embly",
    help="Build embly functions (Rust crates) to WebAssembly with pinned Nix toolchains.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

CommandFunction = TypeVar("CommandFunction", bound=Callable[..., Any])


def _command(**settings: Any) -> Callable[[CommandFunction], CommandFunction]:
    """`app.command`, its help being the function's docstring, reflowed."""

    def register(function: CommandFunction) -> CommandFunction:
        help_text = reflowed(inspect.getdoc(function) or "")
        registered: CommandFunction = app.command(help=help_text, **settings)(function)
        return registered

    return register


ProjectOpt = Annotated[
    Path | None,
    typer.Option(
        "--project", "-p", help="Project directory (default: search upward for embly.hcl)."
    ),
]
ExecutorOpt = Annotated[
    str | None,
    typer.Option(
        help="Where builds run: nix (in this process, in nix-shell), docker (in this "
        "user's build server container, for a machine without Nix) or remote (--remote ADDR)"
        f" (default: the user config, else {DEFAULT_EXECUTOR}, else docker when Nix is "
        "not installed)."
    ),
]
RemoteOpt = Annotated[
    str | None, typer.Option(help="Build server address: unix:/path/to/sock or HOST:PORT.")
]
TlsCaOpt = Annotated[
    Path | None,
    typer.Option(help="Connect to --remote with TLS: the CA that signed the server's certificate."),
]
TlsCertOpt = Annotated[
    Path | None, typer.Option(help="Mutual TLS: this client's certificate (with --tls-key).")
]
TlsKeyOpt = Annotated[Path | None, typer.Option(help="The private key of --tls-cert.")]
TokenFileOpt = Annotated[
    Path | None, typer.Option(help="A file holding the token the --remote server accepts.")
]
JobsOpt = Annotated[
    int | None, typer.Option("--jobs", "-j", min=1, help="Builds at once (default: CPU count).")
]
TargetOpt = Annotated[
    str | None, typer.Option(help="Target triple of the .cwasm (default: this machine).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON event per line on stdout.")]
VerboseOpt = Annotated[
    bool, typer.Option("--verbose", "-v", help="Show every log line as it comes.")
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print only failures.")]
OptLevelOpt = Annotated[
    str | None,
    typer.Option(
        "--opt-level",
        metavar="LEVEL",
        help="wasm-opt level: O0..O4, Os, Oz, or none to skip wasm-opt (default: the user"
        " config's opt_level, for watch its watch_opt_level, else O2). `none` gives the"
        " quickest rebuilds; the .wasm is still stripped and release-compiled.",
    ),
]


@_command()
def build(
    ctx: typer.Context,
    functions: Annotated[
        list[str] | None, typer.Argument(help="Functions to build (default: all).")
    ] = None,
    project: ProjectOpt = None,
    executor: ExecutorOpt = None,
    remote: RemoteOpt = None,
    tls_ca: TlsCaOpt = None,
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
    token_file: TokenFileOpt = None,
    jobs: JobsOpt = None,
    target: TargetOpt = None,
    opt_level: OptLevelOpt = None,
    json_output: JsonOpt = False,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Build all (or the named) functions once into <project>/embly_build/.

    Exit code 0 when every build succeeded, 1 when one failed (or was cancelled by a
    newer build of the function on a shared server), 2 for usage or configuration errors,
    3 when the build server cannot be reached or was lost mid-build; 130, 143 or 129 when
    stopped by Ctrl-C, SIGTERM or SIGHUP, 141 when the reader of its output has gone
    (`| head`): the builds are cancelled and their processes killed.
    """
    from embly_build.cli.commands.build import build_once
    from embly_build.cli.terminal.render import HumanRenderer, JsonRenderer

    mode = _output_mode(json_output, verbose, quiet)
    options = ClientOptions(
        project,
        executor,
        remote,
        jobs,
        target,
        opt_level,
        tls=TlsOptions(tls_ca, tls_cert, tls_key, token_file),
    )
    renderer = JsonRenderer() if json_output else HumanRenderer(verbose=verbose, quiet=quiet)
    command_line = ctx.obj.get("command_line") if isinstance(ctx.obj, dict) else None
    built = build_once(
        options, functions or [], renderer, command_line=command_line, report_mode=mode
    )
    raise typer.Exit(_run(built))


@_command()
def watch(
    functions: Annotated[
        list[str] | None, typer.Argument(help="Functions to watch (default: all).")
    ] = None,
    project: ProjectOpt = None,
    executor: ExecutorOpt = None,
    remote: RemoteOpt = None,
    tls_ca: TlsCaOpt = None,
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
    token_file: TokenFileOpt = None,
    jobs: JobsOpt = None,
    target: TargetOpt = None,
    opt_level: OptLevelOpt = None,
    json_output: JsonOpt = False,
    poll: Annotated[
        bool,
        typer.Option(
            "--poll",
            help="Poll for changes instead of OS events (bind mounts, network filesystems).",
        ),
    ] = False,
    quick_first: Annotated[
        bool | None,
        typer.Option(
            "--quick-first/--no-quick-first",
            help="Write each rebuilt function's stripped artifacts as soon as they are built,"
            " then the optimised ones once wasm-opt is done (default: on, or the user config's"
            " watch_quick_first). Off waits for wasm-opt.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Build, then rebuild on every change until Ctrl-C.

    Watches every input of the selected functions (their crates, `sources` and local Cargo
    path dependencies, also outside the project) and embly.hcl. Only functions whose input
    content changed are rebuilt; a change during a build restarts it. A rebuilt function's
    stripped artifacts are written as soon as cargo is done, then the optimised ones
    (--no-quick-first waits for wasm-opt). A failed build keeps the last good artifact.
    Exit code 130 after Ctrl-C, 143 after SIGTERM, 129 after SIGHUP (the terminal closed), 2
    when the first build cannot start (configuration, nix or toolchain missing).
    """
    from embly_build.cli.commands.watch import watch as watch_forever

    options = ClientOptions(
        project,
        executor,
        remote,
        jobs,
        target,
        opt_level,
        watching=True,
        quick_first=quick_first,
        tls=TlsOptions(tls_ca, tls_cert, tls_key, token_file),
    )
    raise typer.Exit(_run(watch_forever(options, functions or [], json_output, poll)))


@_command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run(
    function: Annotated[str, typer.Argument(help="The function to run.")],
    args: Annotated[
        list[str] | None, typer.Argument(help="Arguments for the function (after --).")
    ] = None,
    project: ProjectOpt = None,
) -> None:
    """Run a built function under wasmtime with WASI: `embly run greeter -- Ada`.

    Loads embly_build/FUNCTION.cwasm when a build on this machine wrote it (a .cwasm is
    native code: one from elsewhere is not loaded), else the .wasm; stdout, stderr and the
    exit code are the function's own.
    """
    from embly_build.cli.commands.run import run_function

    raise typer.Exit(_guard(lambda: run_function(project, function, args or [])))


@_command()
def info(
    project: ProjectOpt = None,
    executor: ExecutorOpt = None,
    remote: RemoteOpt = None,
    tls_ca: TlsCaOpt = None,
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
    token_file: TokenFileOpt = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print it as one JSON object on stdout.")
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="Also each toolchain's identity, target and tool versions."
        ),
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="Print nothing; exit 0 if the server answers, else 3."),
    ] = False,
) -> None:
    """Show the build server's platform, toolchains, and store statistics.

    --json prints them as one JSON object, with snake_case keys and numbers as numbers.
    """
    from embly_build.cli.commands.info import show_info

    mode = _output_mode(json_output, verbose, quiet)
    options = ClientOptions(
        project, executor, remote, tls=TlsOptions(tls_ca, tls_cert, tls_key, token_file)
    )
    raise typer.Exit(_run(show_info(options, mode)))


@_command()
def setup(
    executor: Annotated[
        str | None,
        typer.Option(help="nix, docker or remote: choose without being asked."),
    ] = None,
    remote: Annotated[
        str | None,
        typer.Option(help="The build server for remote: HOST:PORT or unix:/path/to/sock."),
    ] = None,
    tls_ca: TlsCaOpt = None,
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
    token_file: TokenFileOpt = None,
    project: ProjectOpt = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show every line of the preparation.")
    ] = False,
) -> None:
    """Choose where builds run, save the choice, and get it ready: run once per machine.

    It shows the project (embly.hcl, when there is one) and whether Nix and Docker work
    here, then asks where builds run. Enter takes the default: the executor already
    configured when it works, else nix when Nix works, else docker.

    nix: builds run on this machine, each in `nix-shell --pure` with the pinned
    toolchains; nothing else runs, and it is the quickest. Needs Nix.

    docker: builds run in a long-lived container of this user's that has Nix, built
    here from embly's own Dockerfile; its build server listens on loopback only and asks
    for a token made at its first start. For a machine without Nix. Needs Docker.

    remote: builds run on a build server elsewhere (`embly serve`), at --remote ADDR (asked
    for when not given), with --tls-ca, --tls-cert/--tls-key and --token-file as it needs.

    The choice is written to the user config (EMBLY_CONFIG, else ~/.config/embly/config.toml;
    its other keys and comments stay), then made ready: the toolchains provisioned (nix),
    the image built and the container started (docker), or the server asked whether it
    answers (remote). --executor chooses without asking. Without a terminal nothing is
    asked: the choice is what works here (and said), or exit code 2 naming the flag.
    Exit code 0 once ready; 2 for a usage or configuration error, or no answer; 3 when the
    remote server does not answer (the choice stays saved).
    """
    from embly_build.cli.commands.setup import SetupOptions, run_setup

    tls = TlsOptions(tls_ca, tls_cert, tls_key, token_file)
    options = SetupOptions(executor, remote, project, tls, verbose)
    raise typer.Exit(_guard(lambda: run_setup(options)))


@_command()
def toolchains(
    provision: Annotated[
        bool, typer.Option("--provision", help="Put the toolchains in the Nix store now.")
    ] = False,
) -> None:
    """Show the pinned toolchains; with --provision, put them in the Nix store now (with GC
    roots)."""
    from embly_build.cli.commands.toolchains import show_toolchains

    raise typer.Exit(_run(show_toolchains(provision)))


@_command()
def gc(
    max_size: Annotated[
        str,
        typer.Option(
            "--max-size",
            metavar="SIZE",
            help="Trim to this much disk usage, from 0 to 1024T: bytes, or 500M, 10G, 2GiB "
            "(K, M, G, T count in 1024s; KB, MB, GB, TB in 1000s).",
        ),
    ] = "10G",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be removed; remove nothing.")
    ] = False,
    executor: Annotated[
        str | None,
        typer.Option(
            "--executor",
            metavar="nix|docker",
            help="Whose store: this machine's EMBLY_HOME (nix), or this user's build server "
            "container's (docker). Default: the user config's executor, else nix.",
        ),
    ] = None,
) -> None:
    """Trim this machine's EMBLY_HOME to --max-size, least recently used first.

    Blobs, cached build results and build spaces (synced sources and cargo
    target dirs) go in the order they were last used, whatever their kind.
    A cached result whose blobs are gone is rebuilt when next needed.

    Running builds are safe: their build spaces, blobs and cache entries stay.
    Records of `embly build` runs whose inputs have changed since (they can no
    longer answer a no-op build) are removed too.

    Works on the local state of `--executor nix` builds and `embly serve`,
    and with `--executor docker` on the store of this user's build server
    container (it runs there); not on a remote server. Toolchains and
    cargo's download cache are neither counted nor removed.
    """
    from embly_build.cli.commands.gc import gc_command

    raise typer.Exit(_guard(lambda: gc_command(max_size, dry_run, executor)))


@_command()
def serve(
    listen: Annotated[
        list[str] | None, typer.Option("--listen", help="unix:/path or HOST:PORT; repeatable.")
    ] = None,
    jobs: JobsOpt = None,
    store: Annotated[
        Path | None, typer.Option(help="State directory (default: EMBLY_HOME).")
    ] = None,
    executor: Annotated[
        str, typer.Option(help=f"How builds run: {', '.join(EXECUTORS)}.")
    ] = DEFAULT_EXECUTOR,
    tls_cert: Annotated[
        Path | None,
        typer.Option(help="Serve TCP with TLS: the server's certificate (chain), PEM."),
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option(help="The private key of --tls-cert, PEM.")
    ] = None,
    client_ca: Annotated[
        Path | None,
        typer.Option(help="Mutual TLS: accept only clients whose certificate this CA signed."),
    ] = None,
    token_file: Annotated[
        Path | None,
        typer.Option(help="Accept bearer tokens: a file of NAME TOKEN lines, re-read on change."),
    ] = None,
    insecure: Annotated[
        bool,
        typer.Option(help="Serve a non-loopback address without TLS or authentication."),
    ] = False,
) -> None:
    """Run a build server for `--remote ADDR` clients until stopped.

    It listens on each --listen address: unix:/path/to/sock, or HOST:PORT; default
    127.0.0.1:9276. Its store, action cache and build spaces are kept in --store (default:
    EMBLY_HOME, else ~/.cache/embly).

    A server runs build scripts for its clients, so TCP beyond loopback is served only with
    TLS (--tls-cert, --tls-key) and client authentication: --client-ca (clients show a
    certificate that CA signed) and/or --token-file (clients send a token; one `NAME TOKEN`
    line each, several at once to rotate them; the file is read again when it changes, so a
    line removed is a token revoked). --insecure serves without them, with a warning. Each
    authenticated client has its own build spaces and action-cache entries; the content
    store is shared.

    Ctrl-C, SIGTERM or SIGHUP stop it cleanly: running builds are cancelled, their
    processes killed and its unix sockets removed; exit code 0. Exit code 2 before it
    listens when it cannot (an address in use, a certificate, key or token file missing or
    invalid).
    """
    from embly_build.cli.commands.serve import ServeOptions, serve_forever

    options = ServeOptions(
        listen or [], jobs, store, executor, tls_cert, tls_key, client_ca, token_file, insecure
    )
    raise typer.Exit(_run(serve_forever(options)))


def _run(coroutine: object) -> int:
    import asyncio

    from embly_build.server.executors.child_watcher import use_pidfd_child_watcher

    use_pidfd_child_watcher()
    return _guard(lambda: asyncio.run(coroutine))  # type: ignore[arg-type]


def _output_mode(json_output: bool, verbose: bool, quiet: bool) -> str:
    """How a command reports: "json", "verbose", "quiet" or "human"."""
    if verbose and quiet:
        # As cargo does; which of the two was meant cannot be known.
        _exit_for(UsageError("-v/--verbose and -q/--quiet contradict each other; give one"))
    return "json" if json_output else "verbose" if verbose else "quiet" if quiet else "human"


def _guard(action: object) -> int:
    try:
        result = action()  # type: ignore[operator]
    except EmblyError as error:
        return _report(error)
    except KeyboardInterrupt:
        return exit_codes.INTERRUPTED
    except BrokenPipeError:  # the reader of our output has gone (`| head`): see stop_signals.py
        return exit_codes.BROKEN_PIPE
    return int(result)


def _report(error: EmblyError) -> int:
    """Print `error` on stderr; the exit code it calls for."""
    from rich.markup import escape

    from embly_build.cli.terminal.console import OutputConsole

    with contextlib.suppress(OSError):  # nowhere to say it: the exit code still does
        OutputConsole(stderr=True, highlight=False, soft_wrap=True).print(
            f"[red]error:[/red] {escape(str(error))}"
        )
    return exit_codes.for_error(error)


def _exit_for(error: EmblyError) -> NoReturn:
    raise typer.Exit(_report(error))


def main() -> None:
    try:
        # The command line, for `embly build` to record its run under (commands/build.py).
        app(prog_name="embly", obj={"command_line": sys.argv[1:]})
    except SystemExit as request:
        exit_at_once(exit_code_of(request))
    exit_at_once(0)


if __name__ == "__main__":
    main()
