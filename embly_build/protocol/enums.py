"""Typed enum members: type checkers see betterproto's members as plain ints."""

from embly_build.protocol import pb

SUCCEEDED = pb.BuildStatus(pb.BuildStatus.SUCCEEDED)
FAILED = pb.BuildStatus(pb.BuildStatus.FAILED)
CANCELLED = pb.BuildStatus(pb.BuildStatus.CANCELLED)

STDOUT = pb.LogStream(pb.LogStream.STDOUT)
STDERR = pb.LogStream(pb.LogStream.STDERR)
SERVER = pb.LogStream(pb.LogStream.SERVER)
