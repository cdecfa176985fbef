"""A smoke run of the benchmark harness (`python -m bench --smoke`): tiny pictures, one round.

It checks that every step runs end to end against the real services and reports figures, not
the figures themselves (`make bench` is for those). thumbor is measured only if `make bench`
has installed it already; otherwise its section says it was skipped, and why.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.__main__ import NOTES_MARKER

ROOT = Path(__file__).resolve().parents[2]


def test_every_step_runs_and_reports(tmp_path: Path) -> None:
    output = tmp_path / "BENCHMARKS.md"
    output.write_text(f"old figures\n{NOTES_MARKER}\nhand-written analysis\n")

    # As `make bench` runs it: a program of its own, its infrastructure local processes.
    env = {k: v for k, v in os.environ.items() if k != "DEVSTACK_ENGINE"}
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--output", str(output)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]

    report = output.read_text()
    for heading in ("## 1. Resize kernel", "## 2. Through the running services", "## 3.", "## 4. Resize throughput"):
        assert heading in report
    assert "old figures" not in report and report.rstrip().endswith("hand-written analysis")
    assert "| 0 MP JPEG -> 100 | ours |" in report  # the kernel ran on the tiny picture
    assert "naive" in report
    assert "req/s" in report and "resizes/s" in report
    assert "errors" in report
    assert "thumbor" in report  # measured, or skipped with the reason
    assert "Traceback" not in run.stderr
