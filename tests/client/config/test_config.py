from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from embly_build.client.config.project import (
    CONFIG_FILE_NAME,
    ProjectConfig,
    find_config,
    load_project,
)
from embly_build.errors import ConfigError, UsageError

FULL = """\
function "hello" {
  runtime = "rust"
  path    = "./hello"
  sources = ["../embly-rs"]
}

function "api" {
  runtime = "rust"
  path    = "./crates/api/"
}

files "assets" { path = "./assets" }

gateway {
  type = "http"
  port = 8080
  route "/" { function = "${function.hello}" }
  route "/api" { function = function.api }
}

database "vinyl" "main" { definition = "data.proto" }

dependencies = ["embly/http"]
"""


def make_project(root: Path, hcl: str, crates: tuple[str, ...] = ("hello",)) -> Path:
    """A project dir with embly.hcl and a Cargo.toml in each crate dir; returns embly.hcl."""
    root.mkdir(parents=True, exist_ok=True)
    for crate in crates:
        (root / crate).mkdir(parents=True, exist_ok=True)
        (root / crate / "Cargo.toml").write_text('[package]\nname = "x"\n')
    config = root / CONFIG_FILE_NAME
    config.write_text(dedent(hcl))
    return config


def load_error(tmp_path: Path, hcl: str, crates: tuple[str, ...] = ("hello",)) -> ConfigError:
    config = make_project(tmp_path / "project", hcl, crates)
    with pytest.raises(ConfigError) as caught:
        load_project(config)
    return caught.value


def assert_error_at(error: ConfigError, line: int, column: int, *fragments: str) -> None:
    assert error.location is not None, str(error)
    assert (error.location.line, error.location.column) == (line, column), str(error)
    assert error.location.file.name == CONFIG_FILE_NAME
    message = str(error)
    assert message.startswith(f"{error.location.file}:{line}:{column}: ")
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def load_full(tmp_path: Path) -> ProjectConfig:
    (tmp_path / "embly-rs").mkdir()
    (tmp_path / "project" / "assets").mkdir(parents=True)
    config = make_project(tmp_path / "project", FULL, crates=("hello", "crates/api"))
    return load_project(config)


# --- discovery ---------------------------------------------------------------------------


def test_find_config_searches_parent_directories(tmp_path: Path) -> None:
    config = make_project(tmp_path / "project", FULL)
    nested = tmp_path / "project" / "hello" / "src" / "bin"
    nested.mkdir(parents=True)

    assert find_config(nested) == config
    assert find_config(tmp_path / "project") == config


def test_find_config_takes_the_nearest_project(tmp_path: Path) -> None:
    make_project(tmp_path / "outer", FULL)
    inner = make_project(tmp_path / "outer" / "inner", FULL)

    assert find_config(tmp_path / "outer" / "inner" / "hello") == inner


def test_find_config_reports_where_it_looked(tmp_path: Path) -> None:
    if any((parent / CONFIG_FILE_NAME).exists() for parent in tmp_path.parents):
        pytest.skip("an embly.hcl above the temporary directory")
    start = tmp_path / "nowhere"
    start.mkdir()

    with pytest.raises(ConfigError) as caught:
        find_config(start)

    assert str(caught.value) == (
        f"no embly.hcl found in {start.resolve()} or any parent directory;"
        " run embly from inside an embly project or pass --project DIR"
    )


# --- a valid file ------------------------------------------------------------------------


def test_full_file_functions_in_file_order_with_resolved_paths(tmp_path: Path) -> None:
    project = load_full(tmp_path)

    root = (tmp_path / "project").resolve()
    assert project.root == root
    assert project.config_file == root / "embly.hcl"
    assert project.output_dir == root / "embly_build"
    assert list(project.functions) == ["hello", "api"]
    hello, api = project.functions.values()
    assert (hello.name, hello.runtime, hello.path) == ("hello", "rust", root / "hello")
    assert hello.sources == ((tmp_path / "embly-rs").resolve(),)  # outside the project
    assert (hello.location.line, hello.location.column) == (1, 1)
    assert api.path == root / "crates" / "api"
    assert api.sources == ()
    assert api.location.line == 7


def test_full_file_keeps_the_other_blocks_as_data(tmp_path: Path) -> None:
    project = load_full(tmp_path)

    assert list(project.files) == ["assets"]
    assert project.files["assets"].path == (tmp_path / "project" / "assets").resolve()
    assert project.files["assets"].location.line == 12
    assert project.gateways == (
        {
            "type": "http",
            "port": 8080,
            "route": [
                {"/": {"function": "${function.hello}"}},
                {"/api": {"function": "${function.api}"}},
            ],
        },
    )
    assert project.databases == ({"vinyl": {"main": {"definition": "data.proto"}}},)
    assert project.dependencies == ("embly/http",)


def test_file_without_functions_is_valid(tmp_path: Path) -> None:
    config = make_project(tmp_path, 'dependencies = ["embly/http"]\n', crates=())

    project = load_project(config)

    assert project.functions == {}
    with pytest.raises(ConfigError) as caught:
        project.select([])
    assert f"{config} declares no function, so there is nothing to build" in str(caught.value)
    assert 'add a block such as: function "hello"' in str(caught.value)


def test_empty_file_is_valid(tmp_path: Path) -> None:
    project = load_project(make_project(tmp_path, "", crates=()))

    assert (project.functions, project.files, project.gateways) == ({}, {}, ())
    assert project.dependencies == ()


def test_escaped_interpolation_is_not_a_reference(tmp_path: Path) -> None:
    config = make_project(tmp_path, 'gateway { note = "$${function.nope}" }\n', crates=())

    assert load_project(config).gateways == ({"note": "$${function.nope}"},)


def test_comments_crlf_and_bom_are_accepted(tmp_path: Path) -> None:
    hcl = (
        '\ufeff# a comment\r\nfunction "hello" { // another\r\n'
        '  runtime = "rust" /* inline */\r\n  path = "hello"\r\n}\r\n'
    )
    config = make_project(tmp_path, hcl)

    hello = load_project(config).functions["hello"]

    assert (hello.path, hello.location.line) == (tmp_path.resolve() / "hello", 2)


# --- validation errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hcl", "line", "column", "fragments"),
    [
        pytest.param(
            """\
            function "hello" {
              runtime = "rust"
              path    = "./hello"
            }
            function "hello" {
              runtime = "rust"
              path    = "./hello"
            }
            """,
            5,
            1,
            ["duplicate function 'hello'", "first declared at line 1", "rename or remove"],
            id="duplicate-function",
        ),
        pytest.param(
            """\
            function "hello" {
              runtime = "rust"
              path    = "./hello"
              path    = "./other"
            }
            """,
            4,
            3,
            ["duplicate attribute 'path'", "first set at line 3", "remove one of them"],
            id="duplicate-attribute",
        ),
        pytest.param(
            """\
            gateway {
              type = "http"
              route "/" {
                function = "${function.hello}"
                function = "${function.hello}"
              }
            }
            """,
            5,
            5,
            ["duplicate attribute 'function'", "first set at line 4"],
            id="duplicate-attribute-nested",
        ),
        pytest.param(
            """\
            function "hello" {
              runtime = "rust"
              path    = "./hello"
              source  = ["../lib"]
            }
            """,
            4,
            3,
            [
                "unknown attribute 'source' in function 'hello'",
                "allowed attributes: runtime, path, sources",
                "fix the spelling",
            ],
            id="unknown-attribute",
        ),
        pytest.param(
            """\
            function "hello" {
              runtime = "rust"
              path    = "./hello"
              build { release = true }
            }
            """,
            4,
            3,
            ["function 'hello' takes no nested blocks, found 'build'"],
            id="nested-block-in-function",
        ),
        pytest.param(
            """\

            function "hello" {
              path = "./hello"
            }
            """,
            2,
            1,
            ["function 'hello' has no `runtime`", 'add `runtime = "rust"`'],
            id="missing-runtime",
        ),
        pytest.param(
            'function "hello" { runtime = "rust" }\n',
            1,
            1,
            ["function 'hello' has no `path`", 'add `path = "./hello"`'],
            id="missing-path",
        ),
        pytest.param(
            """\
            function "hello" {
              runtime = 1
              path    = "./hello"
            }
            """,
            2,
            3,
            ["`runtime` of function 'hello' must be a quoted string", "got the number 1"],
            id="runtime-number",
        ),
        pytest.param(
            """\
            function "hello" {
              runtime = rust
              path    = "./hello"
            }
            """,
            2,
            3,
            ["`runtime` of function 'hello' must be a quoted string", "got an expression"],
            id="runtime-unquoted",
        ),
        pytest.param(
            """\
            function "hello" {
              runtime = "rust"
              path    = "./${var.crate}"
            }
            """,
            3,
            3,
            ["`path` of function 'hello' must be a quoted string", "got an expression"],
            id="path-interpolated",
        ),
        pytest.param(
            """\
            gateway {
              route = "/"
              route "/" {}
            }
            """,
            3,
            3,
            ["'route' is used both as an attribute (line 2) and as a block (line 3)"],
            id="attribute-and-block-share-a-name",
        ),
        pytest.param(
            """\
            function "hello" {
              runtime = "rust"
              path    = ["./hello"]
            }
            """,
            3,
            3,
            ["`path` of function 'hello' must be a quoted string", "got a list"],
            id="path-list",
        ),
        pytest.param(
            """\
            function "hello" {
              runtime = "rust"
              path    = "./hello"
              sources = "../lib"
            }
            """,
            4,
            3,
            ["`sources` of function 'hello' must be a list of quoted strings", "'../lib'"],
            id="sources-string",
        ),
        pytest.param(
            """\
            function "hello" {
              runtime = "rust"
              path    = "./hello"
              sources = ["../lib", 2]
            }
            """,
            4,
            3,
            ["must be a list of quoted strings", "a list holding the number 2"],
            id="sources-number-item",
        ),
        pytest.param(
            """\
            function "hello" {
              path    = "./hello"
              runtime = "go"
            }
            """,
            3,
            3,
            ["unknown runtime 'go' for function 'hello'", "known runtimes: rust"],
            id="unknown-runtime",
        ),
        pytest.param(
            """\
            function "hello.world" {
              runtime = "rust"
              path    = "./hello"
            }
            """,
            1,
            1,
            ["function name 'hello.world' cannot be used", "embly_build/NAME.wasm"],
            id="name-with-dot",
        ),
        pytest.param(
            'function "-x" {\n  runtime = "rust"\n  path = "./hello"\n}\n',
            1,
            1,
            ["function name '-x' cannot be used", "letters, digits, '_' and '-'"],
            id="name-leading-dash",
        ),
        pytest.param(
            'function "../x" {\n  runtime = "rust"\n  path = "./hello"\n}\n',
            1,
            1,
            ["function name '../x' cannot be used"],
            id="name-with-slash",
        ),
        pytest.param(
            'function {\n  runtime = "rust"\n  path = "./hello"\n}\n',
            1,
            1,
            ["a function block takes exactly one name, got none", 'write `function "NAME"'],
            id="function-without-name",
        ),
        pytest.param(
            'function "a" "b" {\n  runtime = "rust"\n  path = "./hello"\n}\n',
            1,
            1,
            ["exactly one name, got 'a', 'b'"],
            id="function-with-two-names",
        ),
        pytest.param(
            """\
            function "hello" {
              runtime = "rust"
              path    = "./missing"
            }
            """,
            3,
            3,
            ["path './missing' of function 'hello' does not exist", "create it or fix the path"],
            id="path-missing",
        ),
        pytest.param(
            """\
            function "hello" {
              runtime = "rust"
              path    = "."
            }
            """,
            3,
            3,
            ["path '.' of function 'hello' has no Cargo.toml", "the one holding Cargo.toml"],
            id="path-without-cargo-toml",
        ),
        pytest.param(
            """\
            function "hello" {
              runtime = "rust"
              path    = "./hello/Cargo.toml"
            }
            """,
            3,
            3,
            ["of function 'hello' is not a directory"],
            id="path-is-a-file",
        ),
        pytest.param(
            """\
            function "hello" {
              runtime = "rust"
              path    = "./hello"
              sources = [
                "../nope",
              ]
            }
            """,
            4,
            3,
            ["source '../nope' of function 'hello' does not exist", "create it or fix the path"],
            id="source-missing",
        ),
        pytest.param(
            'files "assets" { path = "./nope" }\n',
            1,
            18,
            ["path './nope' of files 'assets' does not exist"],
            id="files-path-missing",
        ),
        pytest.param(
            '\n\nfunctions "hello" {}\n',
            3,
            1,
            [
                "unknown block 'functions'",
                "known top-level names: function, files, gateway, database, dependencies",
            ],
            id="unknown-block",
        ),
        pytest.param(
            'name = "app"\n',
            1,
            1,
            ["unknown attribute 'name'", "function, files, gateway, database, dependencies"],
            id="unknown-top-level-attribute",
        ),
        pytest.param(
            "dependencies { x = 1 }\n",
            1,
            1,
            ["unknown block 'dependencies'", "write `dependencies = [...]`"],
            id="dependencies-as-block",
        ),
        pytest.param(
            "dependencies = [1]\n",
            1,
            1,
            ["`dependencies` must be a list of quoted strings", "a list holding the number 1"],
            id="dependencies-wrong-type",
        ),
        pytest.param(
            'x = "%{ if true }yes"\n',
            1,
            1,
            ["Unterminated template if directive", "fix the template"],
            id="unterminated-template-directive",
        ),
        pytest.param(
            """\
            gateway {
              type = "http"
              route "/" { function = "${function.hello}" }
              route "/b" {
                function = "${function.b}"
              }
            }
            """,
            3,
            15,
            ["unknown function 'hello' in reference", "declared functions: none"],
            id="reference-without-functions",
        ),
    ],
)
def test_validation_error(
    tmp_path: Path, hcl: str, line: int, column: int, fragments: list[str]
) -> None:
    error = load_error(tmp_path, hcl)

    assert_error_at(error, line, column, *fragments)


def test_unknown_function_reference(tmp_path: Path) -> None:
    hcl = """\
    function "a" {
      runtime = "rust"
      path    = "./a"
    }
    function "b" {
      runtime = "rust"
      path    = "./b"
    }
    gateway {
      type = "http"
      route "/" {
        function = "${function.a}"
      }
      route "/x" {  function = "${function.x}" }
    }
    """

    error = load_error(tmp_path, hcl, crates=("a", "b"))

    assert_error_at(
        error,
        14,
        17,
        "unknown function 'x' in reference ${function.x}; declared functions: a, b",
    )


def test_unknown_function_reference_without_quotes(tmp_path: Path) -> None:
    hcl = 'database "vinyl" "main" {\n  owner = function.ghost\n}\n'

    error = load_error(tmp_path, hcl, crates=())

    assert_error_at(error, 2, 3, "unknown function 'ghost' in reference ${function.ghost}")


def test_names_with_newlines_are_escaped_in_messages(tmp_path: Path) -> None:
    error = load_error(tmp_path, 'function "a\nb" {\n  runtime = "rust"\n  path = "./hello"\n}\n')

    assert_error_at(error, 1, 1, "function name 'a\\nb' cannot be used")


# --- syntax and encoding errors ----------------------------------------------------------


@pytest.mark.parametrize(
    ("hcl", "line", "column", "fragments"),
    [
        pytest.param(
            'function "hello" {\n  runtime = "rust"\n',
            3,
            1,
            ["syntax error: unexpected end of file; expected '}'"],
            id="unclosed-block",
        ),
        pytest.param(
            'function "hello" {\n  runtime = \n}\n',
            2,
            13,
            ["syntax error: unexpected '}'; expected a value"],
            id="missing-value",
        ),
        pytest.param(
            'function "hello" {\n  runtime = "rust"\n}\n}\n',
            4,
            1,
            ["syntax error: unexpected '}'; expected end of file"],
            id="extra-brace",
        ),
        pytest.param(
            'function "hello" { runtime = "rust", path = "x" }\n',
            1,
            36,
            ["syntax error: unexpected ','"],
            id="comma-between-attributes",
        ),
        pytest.param(
            'dependencies = ["a" "b"]\n',
            1,
            21,
            ["syntax error: unexpected '\"'; expected ',', ']' or end of line"],
            id="missing-comma-in-list",
        ),
        pytest.param(
            'function "hello" {\n  path = "unterminated\n}\n',
            2,
            11,
            ["syntax error: unexpected end of file; expected '\"' to close the string"],
            id="unterminated-string",
        ),
        pytest.param(
            'function "hello" {\n\truntime = @\n}\n',
            2,
            12,
            ["syntax error: unexpected '@'; expected a value"],
            id="stray-character",
        ),
        pytest.param(
            'function "hello" {\n  runtime == "rust"\n}\n',
            2,
            11,
            ["syntax error: unexpected '=='"],
            id="double-equals",
        ),
        pytest.param(
            "x = <<EOT\nno end marker\n",
            1,
            5,
            ["syntax error: unexpected '<<EOT'"],
            id="unterminated-heredoc",
        ),
    ],
)
def test_syntax_error(
    tmp_path: Path, hcl: str, line: int, column: int, fragments: list[str]
) -> None:
    error = load_error(tmp_path, hcl)

    assert_error_at(error, line, column, *fragments)
    assert "Token(" not in str(error)


def test_non_utf8_file(tmp_path: Path) -> None:
    config = make_project(tmp_path, "")
    config.write_bytes(b'dependencies = ["a"]\n# caf\xe9\n')

    with pytest.raises(ConfigError) as caught:
        load_project(config)

    assert_error_at(caught.value, 2, 6, "not valid UTF-8", "save it as UTF-8")


def test_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE_NAME).mkdir()

    with pytest.raises(ConfigError) as caught:
        load_project(tmp_path / CONFIG_FILE_NAME)

    assert "cannot read" in str(caught.value)
    assert "Is a directory" in str(caught.value)


def test_file_removed_since_it_was_found(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_project(tmp_path / CONFIG_FILE_NAME)

    assert str(caught.value) == f"{tmp_path / CONFIG_FILE_NAME} no longer exists; restore it"


# --- select ------------------------------------------------------------------------------


def test_select_all_when_no_names(tmp_path: Path) -> None:
    project = load_full(tmp_path)

    assert [f.name for f in project.select([])] == ["hello", "api"]


def test_select_named_functions_in_the_order_given(tmp_path: Path) -> None:
    project = load_full(tmp_path)

    assert [f.name for f in project.select(["api", "hello", "api"])] == ["api", "hello"]


def test_select_a_name_given_as_a_string_is_that_function(tmp_path: Path) -> None:
    project = load_full(tmp_path)

    assert [f.name for f in project.select("api")] == ["api"]


def test_select_unknown_name_lists_known_functions(tmp_path: Path) -> None:
    project = load_full(tmp_path)

    with pytest.raises(UsageError) as caught:
        project.select(["hello", "nope"])

    assert "unknown function 'nope'" in str(caught.value)
    assert "known functions: hello, api" in str(caught.value)


def test_select_several_unknown_names(tmp_path: Path) -> None:
    project = load_full(tmp_path)

    with pytest.raises(UsageError) as caught:
        project.select(["x", "y"])

    assert "unknown functions 'x', 'y'" in str(caught.value)
