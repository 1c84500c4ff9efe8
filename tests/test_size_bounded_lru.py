"""The bound shared by the client's tree encoder and the server's record of build spaces."""

from __future__ import annotations

from embly_build.size_bounded_lru import SizeBoundedLru


def test_the_least_recently_used_go_first_once_over_the_bound() -> None:
    kept: SizeBoundedLru[str, str] = SizeBoundedLru(max_size=10)
    kept.put("a", "A", 4)
    kept.put("b", "B", 4)
    assert kept.get("a") == "A"  # now used after b
    kept.put("c", "C", 4)
    assert (kept.get("a"), kept.get("b"), kept.get("c")) == ("A", None, "C")


def test_a_value_put_again_is_counted_once() -> None:
    kept: SizeBoundedLru[str, int] = SizeBoundedLru(max_size=10)
    for size in (6, 6, 6):
        kept.put("a", size, size)
    kept.put("b", 4, 4)
    assert (kept.get("a"), kept.get("b")) == (6, 4)


def test_the_newest_is_kept_whatever_its_size_and_pop_takes_it_out() -> None:
    kept: SizeBoundedLru[str, str] = SizeBoundedLru(max_size=10)
    kept.put("a", "A", 3)
    kept.put("huge", "H", 50)
    assert (kept.get("a"), kept.get("huge")) == (None, "H")
    assert kept.pop("huge") == "H" and kept.pop("huge") is None
    kept.put("b", "B", 10)
    assert kept.get("b") == "B", "nothing is left counted for what was popped"
