"""Choosing a function's inputs in a git work tree: embly's walk against asking git.

Inside a git work tree a function's inputs are what `git ls-files --cached --others
--exclude-standard` lists. Two ways to get them, both measured here on the same tree:

- embly's index: a walk of the directories, its own ignore rules (as git's), and git asked
  only for the tracked paths, once per index file;
- git's listing: that command, then a `stat` and a stat-cache lookup per listed file, the
  least an index built from git's list must do.

Each round indexes as a new process (`embly build`) does, with a stat cache opened anew
and git asked anew: warm (the cache filled) and cold (an empty cache, every file hashed).
Beside them, for scale, git's listing alone and GNU find stating every file, the floor of
any index that learns of changes by stat. Medians of wall time, and of CPU time (this
process's and its children's), which other work on the machine disturbs less: the verdict
is on CPU time. The tree: 100 x 100 files of 4 KiB committed, 100 more
untracked, and a `build/` directory of 1,000 files that .gitignore ignores.

Then generated .gitignore files of many rules, embly's index (warm) against git's listing
alone: 5,000 rules of names (`pat1_*.x1`) over 2,000 files, and 300,000 rules of paths
(`**/zz1/**/y1[a-c]*`, 8.5 MB) over 50 files. Their cost must not grow with the rules times
the files, as it did (4.9 s and a hang, against git's 0.1 s and 3.6 s).

    .venv/bin/python benchmarks/bench_git_listing.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import stat
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from common import info, report

from embly_build.client.inputs import git_repository
from embly_build.client.inputs.index import index_function
from embly_build.client.inputs.stat_cache import StatCache
from embly_build.client.inputs.walk import IndexedFile, hash_file

# The walk is kept while it costs at most this much more than git's bare listing, which
# cannot stand in for it: the watch and the up-to-date record need every directory that is
# not ignored (empty ones too), symlinked directories are followed, a re-index after a save
# lists one directory, and outside git there is no listing.
WALK_TARGET = 1.35
# With many rules, embly parses them in Python and git in C: a small factor at most.
MANY_RULES_TARGET = 2.5
LISTING = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    work = Path(tempfile.mkdtemp(prefix="embly-bench-git-"))
    try:
        crate = _generate(work / "crate")
        walked = [f.path for f in _walk(crate, work / "check.sqlite3")]
        listed = [f.path for f in _git_listing(crate, work / "check.sqlite3")]
        if walked != listed:
            raise SystemExit("embly's inputs differ from git's listing")
        _report(len(walked), *_measure(crate, work, runs))
        for label, rules, files in _MANY_RULES:
            _many_rules(work / f"many-rules-{len(files)}", label, rules, files, runs)
    finally:
        shutil.rmtree(work)


# Name, .gitignore, files: as a generated ignore file (a tool's output, a monorepo's) has them.
_MANY_RULES = [
    (
        "5,000 rules of names, 2,000 files",
        "".join(f"pat{i}_*.x{i % 7}\n" for i in range(5000)),
        [f"d{i % 20}/pat{i}_q.x{i % 7}" for i in range(0, 5000, 3)]
        + [f"d{i % 20}/keep{i}.txt" for i in range(300)],
    ),
    (
        "300,000 rules of paths, 50 files",
        "".join(f"**/zz{i}/**/y{i}[a-c]*\n" for i in range(300_000)),
        [f"zz{i}/q/y{i}b.t" for i in range(50)] + ["ok"],
    ),
]


def _many_rules(crate: Path, label: str, rules: str, files: list[str], runs: int) -> None:
    """embly's warm index against git's listing alone, on a .gitignore of many rules."""
    crate.mkdir(parents=True)
    (crate / "Cargo.toml").write_text('[package]\nname = "bench"\nversion = "0.1.0"\n')
    (crate / ".gitignore").write_text(rules)
    for name in files:
        (crate / name).parent.mkdir(parents=True, exist_ok=True)
        (crate / name).write_bytes(b"")
    subprocess.run(["git", "init", "-q"], cwd=crate, check=True)
    db = crate.parent / f"{crate.name}.sqlite3"
    listed = subprocess.run(LISTING, cwd=crate, check=True, capture_output=True).stdout
    if sorted(f.path for f in _walk(crate, db)) != sorted(os.fsdecode(listed).split("\0")[:-1]):
        raise SystemExit(f"{label}: embly's inputs differ from git's listing")
    embly, git = [], []
    for _ in range(runs):
        started = _cpu_seconds()
        _walk(crate, db)
        embly.append(_cpu_seconds() - started)
        started = _cpu_seconds()
        subprocess.run(LISTING, cwd=crate, check=True, capture_output=True)
        git.append(_cpu_seconds() - started)
    print(f"{label} ({len(rules) / 1e6:.1f} MB of rules), medians of CPU time:")
    report(
        "walk, warm / git ls-files alone",
        statistics.median(embly),
        statistics.median(git),
        MANY_RULES_TARGET,
    )


def _generate(crate: Path) -> Path:
    crate.mkdir(parents=True)
    (crate / "Cargo.toml").write_text('[package]\nname = "bench"\nversion = "0.1.0"\n')
    (crate / ".gitignore").write_text("/target/\n*.tmp\nbuild/\n!build/keep.txt\n")
    for d in range(100):
        directory = crate / "src" / f"module{d:03}"
        directory.mkdir(parents=True)
        for f in range(100):
            (directory / f"file{f:03}.rs").write_bytes(os.urandom(4096))
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    subprocess.run([*git, "init", "-q"], cwd=crate, check=True)
    subprocess.run([*git, "add", "-A"], cwd=crate, check=True)
    subprocess.run([*git, "commit", "-qm", "bench"], cwd=crate, check=True)
    for f in range(100):
        (crate / "src" / "module000" / f"new{f:03}.rs").write_bytes(os.urandom(4096))
    (crate / "build").mkdir()
    for f in range(1000):
        (crate / "build" / f"out{f:04}.o").write_bytes(os.urandom(4096))
    hour_ago = time.time_ns() - 3600 * 10**9  # files written just now are racy: hashed again
    for path in crate.rglob("*"):
        if ".git" not in path.parts:
            os.utime(path, ns=(hour_ago, hour_ago))
    return crate


def _walk(crate: Path, db: Path) -> tuple[IndexedFile, ...]:
    # What git said is kept for the process: a new process asks again.
    git_repository.forget_answers()
    with StatCache(db) as cache:
        return index_function(crate, [], crate / "embly_build", stat_cache=cache).files


def _git_listing(crate: Path, db: Path) -> list[IndexedFile]:
    """An index built from git's listing: a stat and a cache lookup (or a hash) per file."""
    listed = subprocess.run(LISTING, cwd=crate, check=True, capture_output=True).stdout
    by_directory: dict[str, list[str]] = {}
    for path in os.fsdecode(listed).split("\0"):
        if path:
            directory, _, name = path.rpartition("/")
            by_directory.setdefault(directory, []).append(name)
    files = []
    with StatCache(db) as opened, opened.indexing(crate) as cache:
        for directory, names in by_directory.items():
            base = os.path.join(crate, directory, "")
            cached = cache.directory(base.rstrip("/"))
            fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
            try:
                for name in names:
                    try:
                        info = os.stat(name, dir_fd=fd)
                    except FileNotFoundError:
                        continue  # deleted, still in git's index
                    if not stat.S_ISREG(info.st_mode):
                        continue
                    sha256 = cached.lookup(name, info)
                    if sha256 is None:
                        sha256, _ = hash_file(base + name)
                        cached.record(name, info, sha256)
                    relative = f"{directory}/{name}" if directory else name
                    executable = bool(info.st_mode & stat.S_IXUSR)
                    files.append(
                        IndexedFile(relative, base + name, sha256, info.st_size, executable)
                    )
            finally:
                os.close(fd)
    files.sort(key=lambda f: f.path)
    return files


def _measure(crate: Path, work: Path, runs: int) -> tuple[dict[str, float], dict[str, float]]:
    warm_walk, warm_git = work / "warm-walk.sqlite3", work / "warm-git.sqlite3"
    _walk(crate, warm_walk)
    _git_listing(crate, warm_git)
    variants: dict[str, Callable[[int], object]] = {
        "walk, warm": lambda run: _walk(crate, warm_walk),
        "git listing, warm": lambda run: _git_listing(crate, warm_git),
        "walk, cold": lambda run: _walk(crate, work / f"cold-walk-{run}.sqlite3"),
        "git listing, cold": lambda run: _git_listing(crate, work / f"cold-git-{run}.sqlite3"),
        "git ls-files alone": lambda run: subprocess.run(
            LISTING, cwd=crate, check=True, capture_output=True
        ),
        "find, a stat per file": lambda run: subprocess.run(
            [
                *("find", str(crate), "-name", ".git", "-prune", "-o"),
                *("-type", "f", "-printf", "%s %T@ %C@ %i %p\\0"),
            ],
            check=True,
            capture_output=True,
        ),
    }
    wall: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    for run in range(runs):  # each round runs every variant once: noise spreads evenly
        for name, variant in variants.items():
            started, started_cpu = time.perf_counter(), _cpu_seconds()
            variant(run)
            wall[name].append(time.perf_counter() - started)
            cpu[name].append(_cpu_seconds() - started_cpu)
    return (
        {name: statistics.median(times) for name, times in wall.items()},
        {name: statistics.median(times) for name, times in cpu.items()},
    )


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _report(files: int, wall: dict[str, float], medians: dict[str, float]) -> None:
    print(f"{files} input files; medians:")
    for name, seconds in wall.items():
        print(f"  {name:<24} {seconds * 1000:8.1f} ms wall  {medians[name] * 1000:8.1f} ms CPU")
    print("CPU time:")
    floor = medians["find, a stat per file"]
    for name in ("walk, warm", "git listing, warm", "git ls-files alone"):
        info(f"{name} / find", medians[name], floor)
    info("walk, cold / git listing, cold", medians["walk, cold"], medians["git listing, cold"])
    report(
        "walk, warm / git listing, warm",
        medians["walk, warm"],
        medians["git listing, warm"],
        WALK_TARGET,
    )


if __name__ == "__main__":
    main()
