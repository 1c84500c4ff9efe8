"""Who is calling: the identity the server's access policy authenticated, for the task that
serves the call.

The access guard (access.py) sets it before the call's handler runs, in the handler's own
task, so the service reads it with `current_caller()` wherever it needs it (namespacing a
build, a log line). Empty for a caller nobody authenticated: the in-process transport, a
unix socket or loopback TCP served without credentials.
"""

from __future__ import annotations

from contextvars import ContextVar

# "token:NAME", "cert:SUBJECT" or both joined with "+", e.g. "cert:CN=ci+token:alice".
_CALLER: ContextVar[str] = ContextVar("embly_caller", default="")


def current_caller() -> str:
    return _CALLER.get()


def set_caller(identity: str) -> None:
    _CALLER.set(identity)
