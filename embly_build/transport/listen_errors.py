"""Why a server cannot listen on an address, in words, with what to do instead."""

from __future__ import annotations

import errno
from dataclasses import dataclass

from embly_build.errors import UsageError
from embly_build.transport.address import Address


@dataclass(frozen=True)
class ListenAdvice:
    """What to do when the address is taken, when it is not ours to take, or otherwise."""

    in_use: str
    denied: str
    otherwise: str


def cannot_listen(address: Address, error: OSError, advice: ListenAdvice) -> UsageError:
    if error.errno == errno.EADDRINUSE:
        return UsageError(
            f"cannot listen on {address}: address already in use; another process listens "
            f"there (another `embly serve`?): {advice.in_use}"
        )
    cause = error.strerror or str(error)
    denied = error.errno in (errno.EACCES, errno.EPERM)
    return UsageError(
        f"cannot listen on {address}: {cause}; {advice.denied if denied else advice.otherwise}"
    )
