"""What `embly watch` updates from an index given the one before (after file events, or its
full check once quiet) at the cost of what changed (the files that differ, the tree's
encoding, the source graph) matches what it would work out from scratch."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from embly_build.client.inputs import tree_encoder
from embly_build.client.inputs.index import FunctionInputs, index_function
from embly_build.client.inputs.index_delta import index_delta
from embly_build.client.inputs.reindex import index_after_events, reindexes_in_part
from embly_build.client.inputs.source_graph import SourceGraph
from embly_build.client.inputs.tree_encoder import TreeEncoder
from embly_build.client.session.client import load
from embly_build.protocol.input_trees import TreeFile, encode_input_tree
from tests.client.files import write
from tests.client.inputs.test_reindex import (
    after_events,
    assert_same_index,
    full_index,
    hello_project,
    random_change,
)


def changed_locations(old: FunctionInputs, new: FunctionInputs) -> set[str]:
    """Added, removed or changed files, by comparing every file."""
    before = {f.location: f for f in old.files}
    after = {f.location: f for f in new.files}
    return {
        location
        for location in before.keys() | after.keys()
        if before.get(location) != after.get(location)
    }


def fresh_encoding(inputs: FunctionInputs) -> bytes:
    return encode_input_tree(
        TreeFile(f.path, f.sha256, f.size, f.executable) for f in inputs.files
    ).data


def test_random_changes_give_the_delta_and_tree_a_full_comparison_gives(tmp_path: Path) -> None:
    project = hello_project(tmp_path / "project")
    rng = random.Random(11)
    encoder = TreeEncoder()
    current = full_index(project)
    assert encoder.encode("hello", current).data == fresh_encoding(current)
    reused_directories = 0
    for _round in range(40):
        changed: set[Path] = set()
        for _change in range(rng.randint(1, 3)):
            changed |= random_change(project / "hello", rng)
        if rng.random() < 0.3:  # as `embly watch` checks, once quiet, that it missed nothing
            previous, current = current, full_index(project, previous=current)
        else:
            previous, current = current, after_events(current, project, changed)
        reused_directories += sum(previous.walked.get(d) is w for d, w in current.walked.items())
        delta = index_delta(previous, current)
        assert delta.locations == changed_locations(previous, current)
        assert {f.location for f in delta.added} == {
            f.location for f in current.files if f not in set(previous.files)
        }
        assert encoder.encode("hello", current) == encode_input_tree(
            TreeFile(f.path, f.sha256, f.size, f.executable) for f in current.files
        )
    assert reused_directories > 0  # the cheap path was taken, not only the full comparison


def test_an_index_given_the_last_one_keeps_the_objects_of_what_did_not_change(
    tmp_path: Path,
) -> None:
    project = hello_project(tmp_path / "project")
    before = full_index(project)
    edited = write(project / "hello" / "src" / "part1" / "mod.rs", "// edited\n")

    after = full_index(project, previous=before)

    assert_same_index(after, full_index(project))
    kept = {f.location: f for f in before.files}
    assert [f.location for f in after.files if f is not kept.get(f.location)] == [str(edited)]
    directories_found_anew = {d for d, w in after.walked.items() if w is not before.walked[d]}
    assert directories_found_anew == {str(edited.parent)}


def test_a_change_that_calls_for_a_full_index_keeps_the_objects_of_the_rest(
    tmp_path: Path,
) -> None:
    project = hello_project(tmp_path / "project")
    before = full_index(project)
    ignore_rules = write(project / "hello" / ".gitignore", "*.bak\n")

    after = after_events(before, project, {ignore_rules})

    assert not reindexes_in_part(before, {ignore_rules})
    assert_same_index(after, full_index(project))
    kept = {f.location: f for f in before.files}
    assert [f.location for f in after.files if f is not kept.get(f.location)] == [str(ignore_rules)]


def test_a_delta_against_a_full_index_or_nothing_compares_every_file(tmp_path: Path) -> None:
    project = hello_project(tmp_path / "project")
    before = full_index(project)
    write(project / "hello" / "src" / "lib.rs", "// edited\n")
    (project / "assets" / "logo.svg").unlink()
    after = full_index(project)  # no directory object is shared with `before`
    delta = index_delta(before, after)
    assert delta.locations == {
        str(project / "hello" / "src" / "lib.rs"),
        str(project / "assets" / "logo.svg"),
    }
    assert index_delta(None, after).added == after.files


def graph_and_inputs(project: Path) -> tuple[SourceGraph, dict[str, FunctionInputs], Path]:
    config = load(project)
    inputs = {
        f.name: index_function(f.path, f.sources, config.output_dir)
        for f in config.functions.values()
    }
    return SourceGraph(inputs, config.output_dir), inputs, config.output_dir


def test_a_graph_updated_after_events_follows_a_link_added_and_removed(
    project: Path,  # the example-like project of tests/conftest.py
) -> None:
    scratch = project / "greeter" / "scratch"  # ignored by the project's .gitignore
    write(scratch / "notes.rs", "// reached only through the link")
    graph, inputs, output_dir = graph_and_inputs(project)
    greeter = load(project).functions["greeter"]
    assert graph.functions_of(scratch / "notes.rs") == set()

    link = project / "greeter" / "src" / "notes.rs"
    link.symlink_to(scratch / "notes.rs")
    linked = reindex(inputs["greeter"], {link}, greeter.path, greeter.sources, output_dir)
    assert graph.replace(
        "greeter", inputs["greeter"], linked, index_delta(inputs["greeter"], linked)
    )
    assert graph.functions_of(scratch / "notes.rs") == {"greeter"}

    link.unlink()
    unlinked = reindex(linked, {link}, greeter.path, greeter.sources, output_dir)
    assert graph.replace("greeter", linked, unlinked, index_delta(linked, unlinked))
    assert graph.functions_of(scratch / "notes.rs") == set()
    assert graph.functions_of(project / "greeter" / "src" / "main.rs") == {"greeter"}


def test_a_graph_is_not_updated_when_the_input_directories_change(project: Path) -> None:
    graph, inputs, output_dir = graph_and_inputs(project)
    greeter = load(project).functions["greeter"]
    moved = index_function(greeter.path, [project / "words"], output_dir)
    assert not graph.replace(
        "greeter", inputs["greeter"], moved, index_delta(inputs["greeter"], moved)
    )
    assert graph.functions_of(project / "words" / "banner.txt") == {"shout"}  # as it was


def reindex(
    previous: FunctionInputs,
    changed: set[Path],
    crate_dir: Path,
    sources: tuple[Path, ...] | list[Path],
    output_dir: Path,
) -> FunctionInputs:
    assert reindexes_in_part(previous, changed)
    return index_after_events(previous, changed, crate_dir, list(sources), output_dir)


def test_the_encoder_reuses_the_entries_of_unchanged_files_and_forgets_the_oldest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoded: list[str] = []
    real_entry = tree_encoder.tree_entry

    def counting_entry(path: str, sha256: str, size: int, executable: bool) -> bytes:
        encoded.append(path)
        return real_entry(path, sha256, size, executable)

    monkeypatch.setattr(tree_encoder, "tree_entry", counting_entry)
    first = full_index(hello_project(tmp_path / "first"))
    second = full_index(hello_project(tmp_path / "second"))
    encoder = TreeEncoder(max_files=len(first.files) + len(second.files) - 1)

    encoder.encode("first", first)
    write(tmp_path / "first" / "hello" / "src" / "part0" / "mod.rs", "// edited\n")
    encoded.clear()
    again = encoder.encode("first", full_index(tmp_path / "first", previous=first))
    assert encoded == ["hello/src/part0/mod.rs"]
    assert again.data == fresh_encoding(full_index(tmp_path / "first"))

    encoder.encode("second", second)  # over the limit: the first function's are forgotten
    encoded.clear()
    encoder.encode("first", full_index(tmp_path / "first", previous=first))
    assert len(encoded) == len(first.files)
