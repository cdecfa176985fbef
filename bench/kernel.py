"""1. The resize kernel, bytes in memory to encoded bytes: ours vs naive Pillow vs pyvips.

Each measurement runs in a subprocess of its own (so its peak RSS is its own), one thread for
pyvips (VIPS_CONCURRENCY=1). Every method encodes a progressive JPEG at quality 82, like ours.
Quality: PSNR of each output against a LANCZOS resize of the full decode (no JPEG draft).

    .venv/bin/python -m bench.kernel [--rounds 11] [--smoke]
"""

from __future__ import annotations

import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from bench.common import Options, parse_options, ratio, table, verdict
from bench.pictures import Picture, decode, load, path_of
from bench.quality import psnr

QUALITY = 82
METHODS: tuple[str, ...] = ("ours", "pyvips", "naive")


def _ours(data: bytes, width: int) -> bytes:
    from services.resize.kernel import make_variant

    return make_variant(data, width, "jpeg", max_pixels=10**9, quality=QUALITY).data


def _naive(data: bytes, width: int) -> bytes:
    source = Image.open(io.BytesIO(data))
    height = round(source.height * width / source.width)
    image = source.resize((width, height), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=QUALITY, progressive=True)
    return buffer.getvalue()


def _pyvips(data: bytes, width: int) -> bytes:
    import pyvips

    pyvips.cache_set_max(0)
    out: bytes = pyvips.Image.thumbnail_buffer(data, width).jpegsave_buffer(Q=QUALITY, interlace=True)
    return out


RUNNERS: dict[str, Callable[[bytes, int], bytes]] = {"ours": _ours, "naive": _naive, "pyvips": _pyvips}


def child(method: str, path: str, width: int, rounds: int, out: str) -> None:
    """In the subprocess: one warm-up, then ``rounds`` timed runs; JSON on stdout."""
    data = Path(path).read_bytes()
    run = RUNNERS[method]
    result = run(data, width)  # warm-up (imports, first allocations)
    rss_before = _peak_kib()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        result = run(data, width)
        times.append((time.perf_counter() - started) * 1000)
    Path(out).write_bytes(result)
    peak = _peak_kib()
    print(json.dumps({"median_ms": statistics.median(times), "baseline_kib": rss_before, "peak_kib": peak}))


def _peak_kib() -> int:
    """This process's peak RSS: VmHWM (ru_maxrss would include the parent's, kept across fork+exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


@dataclass(frozen=True)
class Measured:
    method: str
    median_ms: float
    peak_mib: float
    psnr: float
    size: tuple[int, int]


def measure(picture: Picture, method: str, rounds: int, reference: Image.Image) -> Measured:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.jpg"
        env = {**os.environ, "VIPS_CONCURRENCY": "1", "OMP_NUM_THREADS": "1"}
        proc = subprocess.run(
            [sys.executable, "-m", "bench.kernel", "--child", method, str(path_of(picture)), str(picture.target),
             str(rounds), str(out)],
            capture_output=True, text=True, env=env, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            raise RuntimeError(f"{method} failed:\n{proc.stderr[-2000:]}")
        figures = json.loads(proc.stdout.strip().splitlines()[-1])
        image = decode(out.read_bytes())
    return Measured(method, figures["median_ms"], figures["peak_kib"] / 1024, psnr(reference, image), image.size)


def have_pyvips() -> bool:
    try:
        import pyvips  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


def run(options: Options, shared: dict[str, object] | None = None) -> str:
    methods = METHODS
    skipped = ""
    if not have_pyvips():
        if not options.smoke:
            raise RuntimeError("pyvips is not installed: `make bench` installs it (pip install -e '.[bench]')")
        methods = tuple(m for m in METHODS if m != "pyvips")
        skipped = "pyvips skipped: not installed in this environment (`make bench` installs it)."
    rows = []
    checks = []
    for picture in options.photos:
        full = decode(load(picture))
        height = round(full.height * picture.target / full.width)
        reference = full.resize((picture.target, height), Image.Resampling.LANCZOS)
        del full
        results = {m: measure(picture, m, options.rounds, reference) for m in methods}
        ours = results["ours"]
        for m in methods:
            r = results[m]
            rows.append([picture.label, m, f"{r.median_ms:.1f}", f"{r.peak_mib:.0f}", f"{r.psnr:.2f}",
                         ratio(r.median_ms, ours.median_ms)])  # fmt: skip
        naive = results["naive"]
        vips = results.get("pyvips", ours)
        naive_target = 4.0 if picture.width * picture.height > 20e6 else 3.5
        checks.append(
            f"- {picture.label}: ours / pyvips time {ratio(ours.median_ms, vips.median_ms)} (target <= 1.0x: "
            f"{verdict(ours.median_ms, vips.median_ms, at_least=False)}), PSNR {ours.psnr:.2f} vs {vips.psnr:.2f} dB "
            f"({verdict(ours.psnr, vips.psnr - 0.05)}); naive / ours {ratio(naive.median_ms, ours.median_ms)} "
            f"(target >= {naive_target}x: {verdict(naive.median_ms / ours.median_ms, naive_target)})"
        )
    header = ["picture", "kernel", "median ms", "peak RSS MiB", "PSNR dB", "time vs ours"]
    return "\n".join(
        [
            "## 1. Resize kernel (bytes in, encoded bytes out, one thread)",
            "",
            f"Median of {options.rounds} rounds after a warm-up, each kernel in its own process (peak RSS of that "
            "process, Python and libraries included). All write a progressive JPEG at quality 82. PSNR against a "
            "LANCZOS resize of the full decode. naive = `Image.open` + `resize(LANCZOS)` + `save`; pyvips = "
            "`thumbnail_buffer` + `jpegsave_buffer(interlace=True)` with `VIPS_CONCURRENCY=1`.",
            "",
            table(header, rows),
            "",
            *checks,
            *([skipped] if skipped else []),
        ]
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        method, path, width, rounds, out = sys.argv[2:7]
        child(method, path, int(width), int(rounds), out)
        return
    print(run(parse_options(__doc__ or "")))


if __name__ == "__main__":
    main()
