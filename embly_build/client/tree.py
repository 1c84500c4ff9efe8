"""From an indexed function to its input tree's canonical encoding (see `input_trees`)."""

from __future__ import annotations

from embly_build.client.index import FunctionInputs
from embly_build.client.upload import TreeInputs
from embly_build.protocol.input_trees import TreeFile, encode_input_tree


def tree_inputs(inputs: FunctionInputs) -> TreeInputs:
    files = (TreeFile(f.path, f.sha256, f.size, f.executable) for f in inputs.files)
    return TreeInputs(inputs.files, encode_input_tree(files))
