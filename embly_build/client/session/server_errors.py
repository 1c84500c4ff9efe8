"""Turn what the transport raises into embly errors with advice.

A server that cannot be reached, does not answer, or is lost mid-call is a ServerError (exit
code 3: cli/exit_codes.py); a refusal of the caller's credentials, or a TLS handshake that
fails (a CA, a client certificate), is an AccessDenied, which the user fixes in the command
or the configuration (exit code 2).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from grpclib import GRPCError
from grpclib.const import Status
from grpclib.exceptions import StreamTerminatedError

from embly_build.errors import (
    AccessDenied,
    BlobNotFound,
    EmblyError,
    EnvironmentProblem,
    ProtocolError,
    ServerError,
    StoreError,
)
from embly_build.transport.channel import ServerNotAnswering, TlsRefused

_KIND_FOR_STATUS: dict[Status, type[EmblyError]] = {
    Status.INVALID_ARGUMENT: ProtocolError,
    Status.NOT_FOUND: BlobNotFound,
    Status.FAILED_PRECONDITION: EnvironmentProblem,
    Status.RESOURCE_EXHAUSTED: StoreError,
    Status.UNAUTHENTICATED: AccessDenied,
    Status.PERMISSION_DENIED: AccessDenied,
}


@contextlib.asynccontextmanager
async def server_errors(address: str) -> AsyncIterator[None]:
    try:
        yield
    except TlsRefused as error:  # the server is there: the TLS settings are what to fix
        raise AccessDenied(f"cannot connect to the build server at {address}: {error}") from error
    except ServerNotAnswering as error:
        raise ServerError(
            f"the server at {address} {error}: is it an embly build server (`embly serve`), "
            "and is it responsive? Check the address, or build in-process with `--executor nix`"
        ) from error
    except GRPCError as error:
        kind = _KIND_FOR_STATUS.get(error.status, ServerError)
        detail = error.message or error.status.name
        if kind is ServerError:
            detail = f"build server at {address} failed: {detail}"
        raise kind(detail) from error
    except StreamTerminatedError as error:  # connected, then gone mid-call
        raise ServerError(
            f"lost the connection to the build server at {address} ({error}): did it stop or"
            " restart? Run the build again once it is up"
        ) from error
    # The transport turns every failure to connect (a name that does not resolve, no
    # route, refused, no socket file at a unix socket's path, not accepted in time) into a
    # ConnectionError saying why (transport/channel.py). A FileNotFoundError is not one: it
    # comes from this machine's own files (an artifact's directory removed meanwhile).
    except ConnectionError as error:
        raise ServerError(
            f"cannot reach the build server at {address} ({error}): is `embly serve` running "
            "there? Check the address, or build in-process with `--executor nix`"
        ) from error
