import pytest

from embly_build.errors import ProtocolError
from embly_build.protocol.paths import check_name, check_tree_path


@pytest.mark.parametrize(
    "path",
    ["", "/etc/passwd", "../outside", "a/../../b", "a//b", "a/./b", "a/", "nul\0byte", "a\\b", "."],
)
def test_hostile_tree_paths_are_refused(path: str) -> None:
    with pytest.raises(ProtocolError, match="invalid path"):
        check_tree_path(path)


@pytest.mark.parametrize("path", ["Cargo.toml", "src/main.rs", "a/b/c.d", "..hidden/file", "x..y"])
def test_ordinary_tree_paths_pass(path: str) -> None:
    assert check_tree_path(path) == path


def test_root_is_allowed_only_where_asked() -> None:
    assert check_tree_path(".", allow_root=True) == "."


@pytest.mark.parametrize("name", ["", "../x", "a/b", ".hidden", "-flag", "x" * 65, "sp ace"])
def test_hostile_names_are_refused(name: str) -> None:
    with pytest.raises(ProtocolError):
        check_name(name, "function name")
