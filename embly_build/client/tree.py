"""From an indexed function to the protocol's InputTree and FunctionSpec."""

from __future__ import annotations

from embly_build.client.index import FunctionInputs
from embly_build.protocol import pb


def input_tree(inputs: FunctionInputs) -> pb.InputTree:
    return pb.InputTree(
        files=[
            pb.FileNode(
                path=f.path,
                digest=pb.Digest(sha256=f.sha256, size_bytes=f.size),
                executable=f.executable,
            )
            for f in sorted(inputs.files, key=lambda f: f.path)
        ]
    )
