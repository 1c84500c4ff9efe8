"""The committed generated package must match what `make proto` produces from protos/."""

import filecmp
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_generated_code_is_up_to_date(tmp_path: Path) -> None:
    venv_bin = Path(sys.executable).parent
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", "-I", "protos",
         f"--python_betterproto_out={tmp_path}", "protos/embly/build/v1/build.proto"],
        cwd=REPO, check=True, capture_output=True,
        env={"PATH": f"{venv_bin}:/usr/bin:/bin"},
    )  # fmt: skip
    committed = REPO / "embly_build" / "generated"
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.py"))
    assert fresh == sorted(p.relative_to(committed) for p in committed.rglob("*.py"))
    stale = [str(p) for p in fresh if not filecmp.cmp(tmp_path / p, committed / p, shallow=False)]
    assert not stale, f"run `make proto`: stale generated files {stale}"
