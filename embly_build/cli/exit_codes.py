"""The one place that maps outcomes to exit codes."""

from __future__ import annotations

from embly_build.errors import BuildCancelled, BuildFailed, EmblyError

OK = 0
BUILD_FAILED = 1
USAGE = 2
HUNG_UP = 129  # 128 + SIGHUP
INTERRUPTED = 130  # 128 + SIGINT
TERMINATED = 143  # 128 + SIGTERM
BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader of our output went away (`| head`)


def for_error(error: EmblyError) -> int:
    if isinstance(error, BuildFailed):
        return BUILD_FAILED
    if isinstance(error, BuildCancelled):
        return INTERRUPTED
    return USAGE
