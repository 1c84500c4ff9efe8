"""Protocol: the generated messages, digests and the rules every path in a request obeys."""

from embly_build.generated.embly.build import v1 as pb

__all__ = ["pb"]
