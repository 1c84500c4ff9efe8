"""The image's HEALTHCHECK: exit 0 when the `embly serve` of this container answers
grpc.health.v1 Check with SERVING on its port, else 1 with the reason on stderr.

The server authenticates every call, health checks included, so the check sends the first
token of the server's own token file.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from grpclib.client import Channel
from grpclib.exceptions import GRPCError, StreamTerminatedError
from grpclib.health.v1.health_grpc import HealthStub
from grpclib.health.v1.health_pb2 import HealthCheckRequest, HealthCheckResponse

TOKEN_FILE = Path("/var/lib/embly/server-tokens")
PORT = 9276
TIMEOUT_SECONDS = 4.0


def first_token(text: str) -> str:
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) == 2:
            return fields[1]
    raise SystemExit(f"no NAME TOKEN line in {TOKEN_FILE}")


async def check() -> int:
    token = first_token(TOKEN_FILE.read_text(encoding="utf-8-sig"))
    channel = Channel("127.0.0.1", PORT)
    try:
        reply = await HealthStub(channel).Check(
            HealthCheckRequest(),
            timeout=TIMEOUT_SECONDS,
            metadata={"authorization": f"Bearer {token}"},
        )
    finally:
        channel.close()
    if reply is None or reply.status != HealthCheckResponse.SERVING:
        print(f"embly serve answers, but not SERVING: {reply}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(check()))
    except (OSError, TimeoutError, GRPCError, StreamTerminatedError) as error:
        print(f"embly serve does not answer on port {PORT}: {error}", file=sys.stderr)
        sys.exit(1)
