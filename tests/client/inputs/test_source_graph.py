"""The source graph selects exactly the functions a change concerns."""

from __future__ import annotations

from pathlib import Path

import pytest

from embly_build.client.inputs.index import index_function
from embly_build.client.inputs.source_graph import SourceGraph
from embly_build.client.session.client import load


@pytest.fixture
def graph(project: Path) -> SourceGraph:
    config = load(project)
    inputs = {
        f.name: index_function(f.path, f.sources, config.output_dir)
        for f in config.functions.values()
    }
    return SourceGraph(inputs, config.output_dir)


def test_shared_crate_selects_every_user(project: Path, graph: SourceGraph) -> None:
    assert graph.functions_of(project / "common" / "src" / "lib.rs") == {
        "greeter",
        "counter",
        "shout",
    }


def test_a_function_crate_selects_only_itself(project: Path, graph: SourceGraph) -> None:
    assert graph.functions_of(project / "greeter" / "src" / "main.rs") == {"greeter"}
    assert graph.functions_of(project / "counter" / "build.rs") == {"counter"}


def test_sources_directory_selects_its_function(project: Path, graph: SourceGraph) -> None:
    assert graph.functions_of(project / "words" / "banner.txt") == {"shout"}


def test_new_files_belong_to_the_crate_they_land_in(project: Path, graph: SourceGraph) -> None:
    new = project / "shout" / "src" / "new_module.rs"
    new.write_text("// new")
    assert graph.functions_of(new) == {"shout"}
    assert graph.functions_of(project / "greeter" / "src" / "deleted.rs") == {"greeter"}


def test_ignored_and_unrelated_files_select_nothing(project: Path, graph: SourceGraph) -> None:
    assert graph.functions_of(project / "greeter" / "debug.log") == set()  # *.log ignored
    assert graph.functions_of(project / "greeter" / "target" / "x.rlib") == set()
    assert graph.functions_of(project / "greeter" / "scratch" / "a.rs") == set()
    # Deep below an ignored directory, whether or not the path exists.
    assert graph.functions_of(project / "greeter" / "target" / "release" / "x.wasm") == set()
    assert graph.functions_of(project / "greeter" / "scratch" / "deep" / "b.rs") == set()
    assert graph.functions_of(project / "embly_build" / "greeter.wasm") == set()
    assert graph.functions_of(project / "assets" / "index.html") == set()
    assert graph.functions_of(project / "embly.hcl") == set()


def test_affected_unions_the_selection(project: Path, graph: SourceGraph) -> None:
    paths = [project / "greeter" / "src" / "main.rs", project / "words" / "banner.txt"]
    assert graph.affected(paths) == {"greeter", "shout"}
    assert project / "common" in graph.input_dirs()


def test_an_ignored_file_an_input_links_to_belongs_by_its_real_path(project: Path) -> None:
    scratch = project / "greeter" / "scratch"  # ignored by the project's .gitignore
    scratch.mkdir()
    (scratch / "notes.rs").write_text("// reached only through the link")
    (project / "greeter" / "src" / "notes.rs").symlink_to(scratch / "notes.rs")
    config = load(project)
    inputs = {
        f.name: index_function(f.path, f.sources, config.output_dir)
        for f in config.functions.values()
    }
    graph = SourceGraph(inputs, config.output_dir)
    # An editor writes to the target, which the ignore rules alone would not select.
    assert graph.functions_of(scratch / "notes.rs") == {"greeter"}
    assert graph.functions_of(project / "greeter" / "src" / "notes.rs") == {"greeter"}
    assert graph.functions_of(scratch / "other.rs") == set()
    assert graph.functions_of(project / "greeter" / "src" / "main.rs") == {"greeter"}
