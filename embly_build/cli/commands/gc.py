"""`embly gc`: trim the local EMBLY_HOME to a size, least recently used first."""

from __future__ import annotations

import asyncio

from embly_build.cli import exit_codes
from embly_build.cli.terminal.console import OutputConsole
from embly_build.client.records.cwasm_trust import remove_records_of_gone_files
from embly_build.client.records.sent_trees import UNUSED_RECORD_DAYS, remove_unused_records
from embly_build.client.records.up_to_date_record import remove_outdated_records
from embly_build.errors import UsageError
from embly_build.server.gc import GcReport, Tally, Usage, collect_garbage
from embly_build.server.settings import ServerSettings
from embly_build.server.sizes import format_size, parse_size

# More than any EMBLY_HOME holds: a larger --max-size is a typing mistake, not a limit.
MAX_SIZE_LIMIT = 1024**5
_SIZE_FORMS = (
    "give bytes or a number with a unit from 0 to 1024T, e.g. 500M, 10G, 2GiB "
    "(K, M, G, T are powers of 1024; KB, MB, GB, TB powers of 1000)"
)


def run_gc(max_size: str, dry_run: bool) -> int:
    max_bytes = max_size_bytes(max_size)
    settings = ServerSettings()
    report = collect_garbage(settings, max_bytes, dry_run=dry_run)
    console = OutputConsole(highlight=False, soft_wrap=True, markup=False)
    records = Tally(*remove_outdated_records(settings.home, dry_run=dry_run))
    sent = Tally(*remove_unused_records(settings.home, dry_run=dry_run))
    written = Tally(*remove_records_of_gone_files(settings.home, dry_run=dry_run))
    console.print(f"EMBLY_HOME    {settings.home}")
    for line in [
        *report_lines(report),
        *_records_line(records, "outdated up-to-date record", "", dry_run),
        *_records_line(sent, "sent-tree record", f" unused for {UNUSED_RECORD_DAYS} days", dry_run),
        *_records_line(written, ".cwasm record", " whose file is gone", dry_run),
    ]:
        console.print(line)
    return exit_codes.OK


def gc_command(max_size: str, dry_run: bool, executor: str | None) -> int:
    if uses_docker(executor):
        return asyncio.run(run_gc_in_container(max_size, dry_run))
    return run_gc(max_size, dry_run)


def uses_docker(executor: str | None) -> bool:
    """Whether the store to trim is the Docker executor's: the flag, else the user config."""
    from embly_build.client.config.user_config import load_user_config
    from embly_build.home import config_file

    chosen = executor or load_user_config(config_file()).executor or "nix"
    if chosen not in ("nix", "docker"):
        raise UsageError(
            f"--executor {chosen}: `embly gc` trims this machine's store (nix) or this user's "
            "build server container's (docker); a remote server's is trimmed there"
        )
    return chosen == "docker"


async def run_gc_in_container(max_size: str, dry_run: bool) -> int:
    from embly_build.client.docker.local_server import docker_state_dir
    from embly_build.client.docker.server_gc import gc_in_container

    max_size_bytes(max_size)  # a typing mistake is told here, before Docker is reached
    arguments = ["--max-size", max_size, *(["--dry-run"] if dry_run else [])]
    return await gc_in_container(
        arguments, docker_state_dir(), lambda line: print(line, flush=True)
    )


def max_size_bytes(text: str) -> int:
    """--max-size in bytes; a `UsageError` naming the range and the forms if it is none."""
    try:
        size = parse_size(text)
    except UsageError as error:
        raise UsageError(f"--max-size: {error}") from None
    except OverflowError:  # more digits than a float holds
        size = MAX_SIZE_LIMIT + 1
    if size > MAX_SIZE_LIMIT:
        raise UsageError(f"--max-size: {text!r} is larger than 1024T (1 PiB); {_SIZE_FORMS}")
    return size


def _records_line(records: Tally, what: str, why: str, dry_run: bool) -> list[str]:
    """Client records that can no longer help: up-to-date records (client/records/up_to_date.py) of
    builds whose inputs have changed since, sent-tree records (client/records/sent_trees.py) no
    build has written for a month, records of written .cwasm files (client/records/cwasm_trust.py)
    that are gone."""
    if not records.count:
        return []
    removed = "would remove" if dry_run else "removed"
    counted = _count(records.count, what) + why
    return [f"{removed:<13} {counted} ({format_size(records.disk_bytes)})"]


def report_lines(report: GcReport) -> list[str]:
    removed = "would remove" if report.dry_run else "removed"
    remaining = "would remain" if report.dry_run else "remaining"
    lines = [
        f"{removed:<13} {_usage(report.removed)}",
        f"{remaining:<13} {_usage(report.remaining)} of at most {format_size(report.max_bytes)}",
    ]
    if report.stale_temp_files.count:
        stale = report.stale_temp_files
        lines.append(
            f"{removed:<13} {_count(stale.count, 'stale temporary file')} "
            f"({format_size(stale.disk_bytes)})"
        )
    left = "would be left" if report.dry_run else "were left"
    if report.spaces_in_use:
        spaces = _count(report.spaces_in_use, "build space")
        lines.append(f"{spaces} in use by running builds {left}")
    if report.store_busy:
        lines.append(_builds_running(report.builds_running, left))
    return lines


def _builds_running(count: int, left: str) -> str:
    if count == 0:
        running, finish = "a build is starting or another gc is running", "it finishes"
    elif count == 1:
        running, finish = "1 build is running", "it finishes"
    else:
        running, finish = f"{count} builds are running", "they finish"
    return f"{running}; blobs and cache entries {left}; run `embly gc` again when {finish}"


def _usage(usage: Usage) -> str:
    parts = [
        _tally(usage.blobs, "blob"),
        _tally(usage.entries, "cache entry", "cache entries"),
        _tally(usage.spaces, "build space"),
    ]
    return f"{', '.join(parts)}: {format_size(usage.total.disk_bytes)}"


def _tally(tally: Tally, singular: str, plural: str | None = None) -> str:
    return f"{_count(tally.count, singular, plural)} ({format_size(tally.disk_bytes)})"


def _count(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count} {singular if count == 1 else plural or singular + 's'}"
