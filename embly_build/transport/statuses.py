"""embly errors as gRPC statuses: the one place the server's errors become the wire's.

The server raises embly errors; every call the gRPC server serves or the in-process
transport makes passes through `grpc_status`, so a client sees the same status and message
whichever transport it uses.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from grpclib import GRPCError
from grpclib.const import Status

from embly_build.errors import (
    AccessDenied,
    BlobNotFound,
    DigestMismatch,
    EmblyError,
    EnvironmentProblem,
    LimitExceeded,
    MissingInputs,
    ProtocolError,
    ServiceUnavailable,
    StoreError,
)

# First match wins: DigestMismatch is a StoreError, yet the client's fault; LimitExceeded a
# ProtocolError, yet a limit of this server's.
_STATUS_FOR: list[tuple[type[EmblyError], Status]] = [
    (DigestMismatch, Status.INVALID_ARGUMENT),
    (LimitExceeded, Status.RESOURCE_EXHAUSTED),
    (ProtocolError, Status.INVALID_ARGUMENT),
    (BlobNotFound, Status.NOT_FOUND),
    (MissingInputs, Status.NOT_FOUND),
    (EnvironmentProblem, Status.FAILED_PRECONDITION),
    (StoreError, Status.RESOURCE_EXHAUSTED),
    (AccessDenied, Status.UNAUTHENTICATED),
    (ServiceUnavailable, Status.UNAVAILABLE),
]


def status_for(error: EmblyError) -> Status:
    return next(
        (status for kind, status in _STATUS_FOR if isinstance(error, kind)), Status.INTERNAL
    )


@contextlib.contextmanager
def grpc_status() -> Iterator[None]:
    """Turn an embly error into a GRPCError of its status; the message travels as the
    status detail."""
    try:
        yield
    except EmblyError as error:
        raise GRPCError(status_for(error), str(error)) from error
