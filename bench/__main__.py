"""``make bench``: every benchmark step in one run, on one machine, into docs/BENCHMARKS.md.

Each step is a module with ``run(options, shared) -> markdown``; ``shared`` lets a later step
reuse an earlier one's figures (thumbor is compared with section 2's own run). Adding a
benchmark is one line in STEPS.

    .venv/bin/python -m bench [--smoke] [--output docs/BENCHMARKS.md] [--only kernel,workers]
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import os
import sys
import time
from pathlib import Path

from bench import cpu
from bench.common import ROOT, Options, machine

STEPS: tuple[str, ...] = (
    "bench.kernel",
    "bench.s3clients",
    "bench.service",
    "bench.thumbor",
    "bench.workers",
    "bench.catalog",
    "bench.pool",
    "bench.hostile",
    "bench.client",
)

HEADER = """# Benchmarks

Command: `make bench` (that is `{command}`), which writes this file. All figures below come
from ONE run of that command on the machine named, as medians or rates; the machine may be shared
and noisy, so compare figures of the same run only.

Run: {date}, {duration:.0f} s in all. Machine: {machine}. Pillow {pillow}.
"""


NOTES_MARKER = "<!-- notes: written by hand, kept by `make bench` -->"


def kept_notes(path: Path) -> str:
    """The hand-written part of an existing report (from NOTES_MARKER on), kept across runs."""
    if not path.exists():
        return ""
    text = path.read_text()
    index = text.find(NOTES_MARKER)
    return "\n" + text[index:] if index >= 0 else ""


def with_load(section: str, load: cpu.SectionLoad) -> str:
    """The section with a line on the machine's load under its heading."""
    heading, newline, rest = section.partition("\n")
    return f"{heading}\n\n{load.note()}\n{rest}" if newline else f"{section}\n\n{load.note()}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny pictures, one round: checks the harness")
    parser.add_argument("--output", type=Path, default=None, help="markdown file to write (default: print only)")
    parser.add_argument("--only", default="", help="comma-separated step names (e.g. kernel,workers)")
    args = parser.parse_args(argv)
    options = Options.smoke_run() if args.smoke else Options()
    wanted = {f"bench.{name.strip()}" for name in args.only.split(",") if name.strip()}
    steps = [s for s in STEPS if not wanted or s in wanted]
    print(f"bench: {machine()}", file=sys.stderr)
    started = time.monotonic()
    shared: dict[str, object] = {}
    sections = []
    for step in steps:
        print(f"bench: running {step}", file=sys.stderr)
        step_started = time.monotonic()
        load = cpu.SectionLoad(probe=0.3, wind_down=1.0) if options.smoke else cpu.SectionLoad()
        section = with_load(importlib.import_module(step).run(options, shared), load.finish())
        print(section + "\n", flush=True)
        print(f"bench: {step} took {time.monotonic() - step_started:.0f} s", file=sys.stderr)
        sections.append(section)
    import PIL

    header = HEADER.format(
        command=" ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])]),
        date=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        duration=time.monotonic() - started,
        machine=machine(),
        pillow=PIL.__version__,
    )
    report = header + "\n" + "\n\n".join(sections) + "\n"
    if args.output is not None:
        path = args.output if args.output.is_absolute() else ROOT / args.output
        path.write_text(report + kept_notes(path))
        print(f"bench: wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    # The figures are of our processes on this machine, not of a container network in between: the
    # broker, S3 and PostgreSQL are local processes unless DEVSTACK_ENGINE asks for an engine.
    os.environ.setdefault("DEVSTACK_ENGINE", "none")
    main()
