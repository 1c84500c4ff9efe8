"""A line per build on the server's log, the logger `embly serve` prints on its
stderr (cli/commands/serve.py).

Lines are `key=value` pairs (a value with spaces or quotes in JSON quotes), so they are
read by eye and by `grep caller=token:alice`. A server that nobody configured the logger for
(the in-process one of `embly build`) logs nothing: the logger's lines are INFO, below
Python's default WARNING.
"""

from __future__ import annotations

import json
import logging
import re

from embly_build.protocol import enums, pb

LOGGER_NAME = "embly.serve"
log = logging.getLogger(LOGGER_NAME)

_STATUS_WORDS = {enums.SUCCEEDED: "ok", enums.FAILED: "failed", enums.CANCELLED: "cancelled"}
_PLAIN = re.compile(r"[^\s\"=\\]+")


def log_finished_build(
    caller: str, project_id: str, function: str, finished: pb.Finished, seconds: float
) -> None:
    """`caller` is the authenticated identity, "" for a caller nobody authenticated."""
    status = _STATUS_WORDS.get(finished.status, "unknown")
    _log_build(caller, project_id, function, status, finished.cache_hit, seconds)


def log_ended_build(
    caller: str, project_id: str, function: str, cancelled: bool, seconds: float
) -> None:
    """A build that ended without a Finished event: `cancelled` when its caller went away or
    the server stopped, else an error the caller was told of (status=error)."""
    _log_build(caller, project_id, function, "cancelled" if cancelled else "error", False, seconds)


def _log_build(
    caller: str, project_id: str, function: str, status: str, cache_hit: bool, seconds: float
) -> None:
    log.info(
        "build %s",
        _pairs(
            caller=caller or "anonymous",
            project=project_id,
            function=function,
            status=status,
            cache_hit="yes" if cache_hit else "no",
            duration=f"{seconds:.2f}s",
        ),
    )


def _pairs(**values: str) -> str:
    return " ".join(f"{key}={_value(value)}" for key, value in values.items())


def _value(text: str) -> str:
    return text if _PLAIN.fullmatch(text) else json.dumps(text)
