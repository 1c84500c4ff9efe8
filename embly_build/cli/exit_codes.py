"""The one place that maps outcomes to exit codes.

A command stopped by a signal exits with 128 + the signal: stop_signals.py says which
while the command's builds run (they are cancelled, which is no error of theirs), app.py
for a Ctrl-C outside them (KeyboardInterrupt). A build cancelled by a newer build of the
same function is a failed build.

A build server that cannot be reached, does not answer, or is lost mid-call has its own
code, 3, apart from usage errors (2): the command was right and may succeed once the
server is up again, so a script can tell "retry" from "fix the command". The same holds for
a server that fails a call on its own account (an internal error): it is not the build's
fault, nor the user's.
"""

from __future__ import annotations

from embly_build.errors import BuildFailed, EmblyError, ServerError

OK = 0
BUILD_FAILED = 1
USAGE = 2
SERVER_UNAVAILABLE = 3
HUNG_UP = 129  # 128 + SIGHUP
INTERRUPTED = 130  # 128 + SIGINT
TERMINATED = 143  # 128 + SIGTERM
BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader of our output went away (`| head`)


def for_error(error: EmblyError) -> int:
    if isinstance(error, BuildFailed):
        return BUILD_FAILED
    if isinstance(error, ServerError):
        return SERVER_UNAVAILABLE
    return USAGE
