"""3. Side by side with thumbor 7.8 on the same pictures, concurrency and cores.

thumbor pins Pillow < 13, so it lives in its own virtualenv under ``.bench/thumbor-venv``
(created here, idempotently). It reads the pictures with its file loader; no result storage
for the cold case (every request a fresh resize), its file result storage for the warm case.
Cold: thumbor with ``--processes 2`` (both cores), ours as ``make run`` starts it (one download
process, one resize worker with a thread per core). Warm: two single-process thumbor instances
against two download replicas (and one download process alone), connections split evenly.

    .venv/bin/python -m bench.thumbor [--seconds 10] [--concurrency 4] [--cold-requests 48] [--smoke]
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from math import nan
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from PIL import Image

from bench import cpu
from bench import load as loadgen
from bench.common import WORK, Options, parse_options, ratio, table, verdict
from bench.pictures import Picture, decode, load
from bench.quality import psnr
from bench.service import Cold, measure_cold, measure_warm, stack, warmed_up
from devstack.infra import provide_infra
from devstack.ports import free_port
from devstack.seaweed import ensure_bucket, s3_client

VERSION = "7.8.0"
VENV = WORK / "thumbor-venv"
THUMBOR = VENV / "bin" / "thumbor"
DEBIAN_PACKAGES = ("libcurl4-openssl-dev", "libssl-dev")
_PIDS: dict[str, int] = {}


def thumbor_pid(base: str) -> int:
    return _PIDS[base]


def installed() -> bool:
    if not THUMBOR.exists():
        return False
    out = subprocess.run([str(THUMBOR), "--version"], capture_output=True, text=True, check=False)
    return VERSION in out.stdout + out.stderr


def install() -> None:
    """thumbor in its own virtualenv; Debian's curl headers only if its pip install needs them."""
    if installed():
        return
    print(f"bench: installing thumbor {VERSION} into {VENV}", file=sys.stderr)
    if not (VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    if subprocess.run([*pip, f"thumbor=={VERSION}"], check=False).returncode == 0:
        return
    if shutil.which("apt-get") is None:
        raise RuntimeError("thumbor's install failed and apt-get is not there to add its build dependencies")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *DEBIAN_PACKAGES], check=True, env=env)
    subprocess.run([*pip, f"thumbor=={VERSION}"], check=True)


def _config(root: Path, pictures: Path | None, result_storage: bool, quality: int = 82) -> Path:
    """thumbor's configuration: its file loader on ``pictures``, or (None) its HTTP loader."""
    loader = (
        ["LOADER = 'thumbor.loaders.file_loader'", f"FILE_LOADER_ROOT_PATH = {str(pictures)!r}"]
        if pictures is not None
        else ["LOADER = 'thumbor.loaders.http_loader'", "HTTP_LOADER_MAX_CLIENTS = 16"]
    )
    lines = [
        *loader,
        "STORAGE = 'thumbor.storages.no_storage'",
        "ALLOW_UNSAFE_URL = True",
        f"QUALITY = {quality}",
        "PROGRESSIVE_JPEG = True",
        "RESPECT_ORIENTATION = True",
        "AUTO_WEBP = False",
    ]
    if result_storage:
        lines += [
            "RESULT_STORAGE = 'thumbor.result_storages.file_storage'",
            f"RESULT_STORAGE_FILE_STORAGE_ROOT_PATH = {str(root / 'results')!r}",
            "RESULT_STORAGE_STORES_UNSAFE = True",
            "RESULT_STORAGE_EXPIRATION_SECONDS = 0",
        ]
    name = "warm" if result_storage else ("cold" if pictures is not None else "cold-http")
    path = root / f"thumbor-{name}.conf"
    path.write_text("\n".join(lines) + "\n")
    return path


@contextmanager
def running_thumbor(root: Path, pictures: Path | None, *, result_storage: bool, processes: int = 2) -> Iterator[str]:
    if not _PIDS:  # the first instance of a run starts from an empty result storage
        shutil.rmtree(root / "results", ignore_errors=True)
    conf = _config(root, pictures, result_storage)
    port = free_port()
    log = (root / "thumbor.log").open("ab")
    command = [str(THUMBOR), "-p", str(port), "-i", "127.0.0.1", "-c", str(conf), "-l", "error"]
    command += ["--processes", str(processes)]
    # Its own process group: `--processes 2` forks workers that outlive a SIGTERM to the parent alone.
    proc = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthcheck", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"thumbor did not start; see {root / 'thumbor.log'}")
            time.sleep(0.2)
        _PIDS[base] = proc.pid
        yield base
    finally:
        _PIDS.pop(base, None)
        _stop_group(proc)
        log.close()


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to thumbor's process group (the parent and its forked workers), SIGKILL if it lingers."""
    for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break
            proc.poll()
            time.sleep(0.1)
        else:
            continue
        break
    proc.wait()


def _copies(picture: Picture, pictures: Path, count: int) -> list[str]:
    """``count`` distinct file names with the picture's bytes: every cold request a new source."""
    data = load(picture)
    names = [f"c{i}-{picture.name}" for i in range(count)]
    for name in names:
        path = pictures / name
        if not path.exists() or path.stat().st_size != len(data):
            path.write_bytes(data)
    return names


def _reference(picture: Picture) -> Image.Image:
    full = decode(load(picture))
    return full.resize((picture.target, round(full.height * picture.target / full.width)), Image.Resampling.LANCZOS)


def _thumbor_cold(
    base: str, picture: Picture, paths: list[str], options: Options, seaweedfs: list[int] | None = None
) -> _ColdRun:
    """Each ``/unsafe/{path}`` once, the first ``options.warmups`` as the warm-up; ``seaweedfs``: the
    pids of the SeaweedFS it reads from, whose CPU per request is counted too."""
    urls = warmed_up([f"{base}/unsafe/{path}" for path in paths], options)  # the same warm-up as ours
    pids = cpu.tree(thumbor_pid(base))
    cpu_before = cpu.seconds(pids)
    weed_before = cpu.seconds(seaweedfs or [])
    busy_before, total_before = cpu.machine()
    theirs = loadgen.each_once(urls, concurrency=options.concurrency)
    busy_after, total_after = cpu.machine()
    per_request = 1000 / len(urls)
    their_cpu = (cpu.seconds(pids) - cpu_before) * per_request
    weed_ms = (cpu.seconds(seaweedfs) - weed_before) * per_request if seaweedfs else nan
    their_machine = (busy_after - busy_before) * per_request
    their_busy = (busy_after - busy_before) / (total_after - total_before) if total_after > total_before else 0.0
    output = decode(httpx.get(urls[0], timeout=60).content)
    return _ColdRun(theirs, psnr(_reference(picture), output), their_cpu, their_machine, their_busy, weed_ms)


def _row(
    picture: Picture, server: str, result: loadgen.Result, quality: float, cpu_ms: float, machine_ms: float, busy: float
) -> list[str]:
    spread = f"{result.percentile(0.5):.0f} / {result.percentile(0.95):.0f}"
    machine = f"{machine_ms:.0f} ({busy:.0%} busy)"
    return [picture.label, server, f"{result.rate:.1f}", spread, f"{quality:.2f}", f"{cpu_ms:.0f}", machine]


@dataclass(frozen=True)
class _ColdRun:
    """One server's cold run: the result, PSNR, CPU ms/req of its own processes and of the whole
    machine, the machine's busy share, and (thumbor over HTTP) what SeaweedFS spent serving it."""

    result: loadgen.Result
    psnr: float
    cpu_ms: float
    machine_ms: float
    busy: float
    seaweedfs_ms: float = float("nan")


def _our_run(cold: Cold) -> _ColdRun:
    own = sum(v for k, v in cold.cpu_ms.items() if k in ("download", "resize", "bridge"))
    return _ColdRun(cold.result, cold.psnr, own, cold.machine_ms, cold.machine_busy, cold.cpu_ms.get("seaweedfs", nan))


SERVERS = {
    "ours": "ours (through S3 and RabbitMQ)",
    "file": "thumbor 7.8 (file loader)",
    "http": "thumbor 7.8 (HTTP loader from SeaweedFS)",
}


def _rounds(options: Options, root: Path, pictures: Path) -> dict[str, dict[str, list[_ColdRun]]]:
    """``{picture label: {server: [a run per round]}}``: the three servers side by side, all running
    at once and measured in turn, ``cold_rounds`` times, the order turning by one each round, so a
    drift of the machine's speed (these are shared virtual machines) falls on all three alike."""
    found: dict[str, dict[str, list[_ColdRun]]] = {}
    with ExitStack() as servers:
        running, infra = servers.enter_context(stack())
        file_base = servers.enter_context(running_thumbor(root, pictures, result_storage=False))
        # thumbor as it runs in front of an object store: its HTTP loader reading the same originals
        # from a SeaweedFS like ours (its filer's HTTP API, which needs no signature), over loopback.
        their_infra = servers.enter_context(provide_infra())
        http_base = servers.enter_context(running_thumbor(root, None, result_storage=False))
        bucket = f"thumbor-{uuid.uuid4().hex[:8]}"
        ensure_bucket(their_infra.s3_endpoint_url, bucket)
        s3 = s3_client(their_infra.s3_endpoint_url, their_infra.access_key, their_infra.secret_key)
        filer = their_infra.filer_address.rsplit(".", 1)[0]  # host:port of its HTTP API
        weed = cpu.pids_matching("weed", f"-s3.port={urlsplit(their_infra.s3_endpoint_url).port}")
        for picture in options.photos:
            names = _copies(picture, pictures, options.warmups + options.cold_requests)
            file_paths = [f"{picture.target}x0/{name}" for name in names]
            data = load(picture)
            for name in names:
                s3.put_object(Bucket=bucket, Key=name, Body=data, ContentType="image/jpeg")
            http_paths = [f"{picture.target}x0/{filer}/buckets/{bucket}/{name}" for name in names]
            runs: dict[str, list[_ColdRun]] = {server: [] for server in SERVERS}
            order = list(SERVERS)
            for round_ in range(options.cold_rounds):
                for server in order[round_ % 3 :] + order[: round_ % 3]:
                    if server == "ours":  # fresh originals each round: a variant is made once
                        runs[server].append(_our_run(measure_cold(running, picture, options, infra)))
                    elif server == "file":
                        runs[server].append(_thumbor_cold(file_base, picture, file_paths, options))
                    else:
                        runs[server].append(_thumbor_cold(http_base, picture, http_paths, options, weed))
            found[picture.label] = runs
    return found


def _median_run(runs: list[_ColdRun]) -> _ColdRun:
    """The rounds together: median rate and CPU figures, latencies of every round."""
    results = [run.result for run in runs]
    pooled = loadgen.Result(
        requests=sum(r.requests for r in results),
        seconds=sum(r.seconds for r in results),
        latencies_ms=tuple(ms for r in results for ms in r.latencies_ms),
        errors=sum(r.errors for r in results),
        tool=results[0].tool,
    )
    return _ColdRun(
        pooled,
        statistics.median(run.psnr for run in runs),
        statistics.median(run.cpu_ms for run in runs),
        statistics.median(run.machine_ms for run in runs),
        statistics.median(run.busy for run in runs),
        statistics.median(run.seaweedfs_ms for run in runs),
    )


def _round_ratios(ours: list[_ColdRun], theirs: list[_ColdRun]) -> list[float]:
    return [a.result.rate / b.result.rate if b.result.rate else nan for a, b in zip(ours, theirs, strict=True)]


def _ratio_text(ratios: list[float]) -> str:
    """The median of the rounds' ratios, with their range."""
    if len(ratios) == 1:
        return f"{ratios[0]:.2f}x"
    return f"{statistics.median(ratios):.2f}x (rounds {min(ratios):.2f}-{max(ratios):.2f}x)"


def run(options: Options, shared: dict[str, object] | None = None) -> str:
    shared = shared if shared is not None else {}
    if not installed():
        if options.smoke:
            return "## 3. thumbor\n\nSkipped in the smoke run: thumbor is not installed (`make bench` installs it)."
        install()
    root = WORK / "thumbor"
    pictures = root / "pictures"
    pictures.mkdir(parents=True, exist_ok=True)
    rounds = _rounds(options, root, pictures)
    warm = shared.get("ours_warm")
    colds = shared.get("ours_cold")
    if not isinstance(colds, list) or not isinstance(warm, dict):
        with stack() as (running, infra):
            colds = [measure_cold(running, options.photos[0], options, infra)]
            warm = measure_warm(running, colds[0], options)

    rows = []
    checks = []
    for picture in options.photos:
        runs = rounds[picture.label]
        summaries = {server: _median_run(runs[server]) for server in SERVERS}
        for server, label in SERVERS.items():
            summary = summaries[server]
            if server != "file":
                label = f"{label}; SeaweedFS {summary.seaweedfs_ms:.0f} ms/req"
            rows.append(
                _row(picture, label, summary.result, summary.psnr, summary.cpu_ms, summary.machine_ms, summary.busy)
            )
        ours, theirs, over_http = summaries["ours"], summaries["file"], summaries["http"]
        to_file = _round_ratios(runs["ours"], runs["file"])
        to_http = _round_ratios(runs["ours"], runs["http"])
        checks.append(
            f"- cold {picture.label}: ours / thumbor (file loader) {_ratio_text(to_file)} req/s (target "
            f">= 1.0x: {verdict(statistics.median(to_file), 1.0)}), CPU per request (own processes) "
            f"{ratio(ours.cpu_ms, theirs.cpu_ms)}, whole machine {ratio(ours.machine_ms, theirs.machine_ms)}; "
            f"PSNR {ours.psnr:.2f} vs {theirs.psnr:.2f} dB ({verdict(ours.psnr, theirs.psnr - 0.05)}); "
            f"thumbor errors: {theirs.result.errors}"
        )
        checks.append(
            f"- cold {picture.label}: ours / thumbor reading from SeaweedFS {_ratio_text(to_http)} req/s (target "
            f">= 1.3x: {verdict(statistics.median(to_http), 1.3)}), whole machine "
            f"{ratio(ours.machine_ms, over_http.machine_ms)}; thumbor errors: {over_http.result.errors}"
        )

    first = colds[0]
    assert isinstance(first, Cold)
    # Warm: two single-process thumbor instances on one result storage, the connections split
    # evenly over them, exactly as over our two download replicas (one instance with
    # `--processes 2` keeps whatever split of the kept-alive connections the kernel gave it).
    with (
        running_thumbor(root, pictures, result_storage=True, processes=1) as base_1,
        running_thumbor(root, pictures, result_storage=True, processes=1) as base_2,
    ):
        path = f"/unsafe/{first.picture.target}x0/c0-{first.picture.name}"
        for base in (base_1, base_2):
            httpx.get(base + path, timeout=60)  # fills the result storage, then reads it
        theirs_warm = loadgen.repeat(
            [base_1 + path, base_2 + path], concurrency=options.concurrency, seconds=options.seconds
        )
    ours_one, ours_two = warm["ours"], warm["ours_2"]
    assert isinstance(ours_one, loadgen.Result) and isinstance(ours_two, loadgen.Result)
    warm_ratio = ours_two.rate / theirs_warm.rate if theirs_warm.rate else 0.0
    checks.append(
        f"- warm {first.picture.label}, two processes each (2 thumbor instances, 2 download replicas): "
        f"ours {ours_two.rate:.0f} req/s, thumbor (file result storage) {theirs_warm.rate:.0f} "
        f"req/s: {ratio(ours_two.rate, theirs_warm.rate)} (target >= 2x: {verdict(warm_ratio, 2.0)}); "
        f"one download process alone: {ours_one.rate:.0f} req/s, {ratio(ours_one.rate, theirs_warm.rate)}"
    )
    return "\n".join(
        [
            "## 3. Side by side with thumbor 7.8",
            "",
            f"Cold: {options.cold_requests} distinct sources per picture, each resized once, {options.concurrency} "
            "at a time, a new connection per request (the same Python client for both), after the same "
            f"warm-up for both ({options.warmups} on other sources, one per server process, once "
            "the machine is idle). thumbor: "
            "`--processes 2`, no storage, no result storage, quality 82, progressive; once with its file loader "
            "(no network at all: the upper bound), once with its HTTP loader reading the same originals from a "
            "SeaweedFS like ours (its filer's HTTP API, over loopback), as it runs in front of an object store. "
            f"The three run side by side and are measured in turn, {options.cold_rounds} rounds, the order "
            "turning by one each round (ours measured again here, with fresh originals each round): rates and "
            "CPU are the rounds' medians, latencies those of every round, and each ratio the median of the "
            "rounds' ratios with their range, so a drift of the machine's speed falls on all three. "
            "Warm: two single-process thumbor instances sharing a file result "
            "storage against our two download replicas, the same wrk run spreading the connections evenly "
            "over the two (as a load balancer would); and one download process alone.",
            "",
            table(
                [
                    "cold",
                    "server",
                    "req/s",
                    "p50 / p95 ms",
                    "PSNR dB",
                    "CPU ms/req (own processes)",
                    "CPU ms/req (whole machine)",
                ],
                rows,
            ),
            "",
            *checks,
        ]
    )


def main() -> None:
    print(run(parse_options(__doc__ or "")))


if __name__ == "__main__":
    main()
