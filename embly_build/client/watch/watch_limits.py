"""Why OS watches failed, in words: a system limit reached says how to raise it."""

from __future__ import annotations

import errno

from embly_build.client.watch.inotify import InstanceLimitReached

WATCH_LIMIT_ADVICE = (
    "the system's limit on watched files is reached (inotify: no space left on device); "
    "falling back to polling. To raise the limit: "
    "sudo sysctl fs.inotify.max_user_watches=524288 (add it to /etc/sysctl.conf to keep it)"
)
INSTANCE_LIMIT_ADVICE = (
    "the system's limit on file watchers is reached (inotify: too many instances, or this "
    "process has too many open files); falling back to polling. To raise the limit: "
    "sudo sysctl fs.inotify.max_user_instances=1024 (add it to /etc/sysctl.conf to keep it)"
)


def describe(error: OSError) -> str:
    if error.filename is None or error.strerror is None:
        return str(error)
    return f"{error.filename}: {error.strerror}"


def limit_advice(error: OSError) -> str | None:
    """What to tell a user whose watches failed with `error` on a system limit, else None."""
    if isinstance(error, InstanceLimitReached):
        return INSTANCE_LIMIT_ADVICE
    if error.errno == errno.ENOSPC or "watch limit" in str(error).lower():
        return WATCH_LIMIT_ADVICE
    return None
