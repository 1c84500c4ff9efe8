"""What each caller has to itself on a shared server: its build spaces and action-cache
entries. The content store is shared: a blob is named by its sha256, so no caller can
change what another reads under a digest.

A build script runs with the server's rights, so a caller could otherwise read another's
sources in a shared build space, or leave a result under a key another caller will look up.
"""

from __future__ import annotations

import hashlib

from embly_build.server.requests import ValidBuild


def caller_namespace(caller: str) -> str:
    """A short, file-name-safe name for a caller ("" for an unauthenticated one): the
    identity itself (a certificate subject) may hold any character."""
    if not caller:
        return ""
    return hashlib.sha256(caller.encode()).hexdigest()[:20]


def space_owner(job: ValidBuild) -> str:
    """The directory under spaces/ holding the job's function spaces: the project id, with
    the caller's namespace after an '@' (which no project id has) when authenticated."""
    namespace = caller_namespace(job.caller)
    return f"{job.project_id}@{namespace}" if namespace else job.project_id
