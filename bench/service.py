"""2. Through the running services: cold variant latency with its breakdown, warm variant
requests/s through the download service vs a direct S3 GET of the same object, and 304s.

Starts the five services as processes against a private SeaweedFS and a fresh vhost (as the
end-to-end tests do). Originals are put straight into the bucket (the upload path is not measured).

    .venv/bin/python -m bench.service [--seconds 10] [--concurrency 4] [--cold-requests 48] [--smoke]
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from PIL import Image

from bench import cpu
from bench import load as loadgen
from bench.common import Options, parse_options, ratio, table, verdict
from bench.pictures import Picture, decode, load
from bench.quality import psnr
from devstack.infra import Infra, provide_infra
from devstack.ports import free_port
from devstack.s3_requests import s3_requests
from devstack.s3_requests import spent as spent_requests
from devstack.services import ServiceProcess, started
from devstack.stack import RunningStack, running_stack
from shared.keys import new_file_id

STAGES = ("queue", "read", "kernel", "write")


@dataclass(frozen=True)
class Cold:
    picture: Picture
    result: loadgen.Result
    stages_ms: dict[str, float]  # mean per stage, from the worker's histogram
    rpc_ms: float  # mean resize round trip seen by the download service
    psnr: float
    variant_url: str
    variant_key: str
    cpu_ms: dict[str, float]  # CPU per request of each of our services (with their child processes),
    # of "kernel" (the resize worker's kernel processes alone), "seaweedfs" and "rabbitmq"
    machine_ms: float  # CPU per request of the whole machine (all processes, the load generator too)
    machine_busy: float  # share of the machine's CPU time that was busy during the run
    s3_requests: dict[str, float]  # S3 requests per cold request, by SeaweedFS's type (HEAD counts as GET)

    @property
    def worker_per_kernel(self) -> float:
        """The resize worker's CPU per resize (its kernel processes included) over its kernel's."""
        kernel = self.cpu_ms.get("kernel", float("nan"))
        return self.cpu_ms.get("resize", float("nan")) / kernel if kernel else float("nan")


@contextmanager
def stack() -> Iterator[tuple[RunningStack, Infra]]:
    with (
        provide_infra() as infra,
        tempfile.TemporaryDirectory(prefix="bench-") as tmp,
        running_stack(infra, Path(tmp)) as running,
    ):
        yield running, infra


def _metric_sums(url: str, name: str, label: str | None = None) -> dict[str, tuple[float, float]]:
    """``{label value: (sum, count)}`` of a histogram (label None: one entry under "")."""
    found: dict[str, list[float]] = {}
    for line in httpx.get(url, timeout=10).text.splitlines():
        for suffix, index in (("_sum", 0), ("_count", 1)):
            if not line.startswith(name + suffix):
                continue
            key = ""
            if label is not None:
                marker = f'{label}="'
                if marker not in line:
                    continue
                key = line.split(marker, 1)[1].split('"', 1)[0]
            found.setdefault(key, [0.0, 0.0])[index] = float(line.rsplit(" ", 1)[1])
    return {k: (v[0], v[1]) for k, v in found.items()}


def _mean_ms(before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]], key: str) -> float:
    s0, c0 = before.get(key, (0.0, 0.0))
    s1, c1 = after.get(key, (0.0, 0.0))
    return (s1 - s0) / (c1 - c0) * 1000 if c1 > c0 else float("nan")


def put_originals(running: RunningStack, picture: Picture, count: int) -> list[str]:
    data = load(picture)
    keys = [f"{new_file_id()}/{picture.name}" for _ in range(count)]
    for key in keys:
        running.s3.put_object(Bucket=running.bucket, Key=key, Body=data, ContentType="image/jpeg")
    return keys


def warmed_up(urls: list[str], options: Options) -> list[str]:
    """The same warm-up for every server of a cold comparison: once the machine is idle, the first
    ``options.warmups`` URLs (one per server process: its first request imports and connects) are
    asked for, and the rest, returned, are left to measure once the machine is idle again."""
    warmups, measured = urls[: options.warmups], urls[options.warmups :]
    cpu.settle(timeout=options.settle_seconds)
    loadgen.each_once(warmups, concurrency=options.warmups)
    cpu.settle(timeout=options.settle_seconds)
    return measured


def measure_cold(running: RunningStack, picture: Picture, options: Options, infra: Infra | None = None) -> Cold:
    keys = put_originals(running, picture, options.warmups + options.cold_requests)
    # The originals' object.created events (an upload's work, not a cold request's) are handled first.
    urls = warmed_up([f"{running.download_url}/files/{key}?width={picture.target}" for key in keys], options)
    keys = keys[options.warmups :]
    worker_metrics = f"http://127.0.0.1:{running.ports.resize}/metrics"
    download_metrics = f"{running.download_url}/metrics"
    stages_before = _metric_sums(worker_metrics, "resize_stage_seconds", "stage")
    rpc_before = _metric_sums(download_metrics, "download_resize_rpc_seconds")
    roots = {name: svc.proc.pid for name, svc in running.services.items() if svc.proc is not None}
    meters = {name: cpu.TreeMeter([pid]) for name, pid in roots.items()}  # kernel processes included
    shared_pids = {
        "seaweedfs": cpu.pids_matching("weed", f"-s3.port={urlsplit(running.s3.meta.endpoint_url).port}"),
        "rabbitmq": cpu.pids_matching("beam.smp", "rabbit"),  # the broker's VM (shared, if others use it)
    }
    shared_before = {name: cpu.seconds(group) for name, group in shared_pids.items()}
    metrics_url = infra.s3_metrics_url if infra is not None else None
    s3_before = s3_requests(metrics_url, running.bucket) if metrics_url else None
    machine_before = cpu.machine()
    result = loadgen.each_once(urls, concurrency=options.concurrency)
    machine_spent, machine_busy = cpu.busy_since(machine_before)
    per_request = 1000 / len(urls)
    cpu_ms: dict[str, float] = {}
    for name, meter in meters.items():
        spent = meter.spent()
        cpu_ms[name] = sum(spent.values()) * per_request
        if name == "resize":
            cpu_ms["kernel"] = sum(v for pid, v in spent.items() if pid != roots[name]) * per_request
    for name, group in shared_pids.items():
        cpu_ms[name] = (cpu.seconds(group) - shared_before[name]) * per_request
    used = spent_requests(s3_before, s3_requests(metrics_url, running.bucket)) if metrics_url and s3_before else {}
    s3_per_request = {kind: count / len(urls) for kind, count in used.items()}
    machine_ms = machine_spent * per_request
    stages_after = _metric_sums(worker_metrics, "resize_stage_seconds", "stage")
    rpc_after = _metric_sums(download_metrics, "download_resize_rpc_seconds")
    stages = {stage: _mean_ms(stages_before, stages_after, stage) for stage in STAGES}
    full = decode(load(picture))
    reference = full.resize(
        (picture.target, round(full.height * picture.target / full.width)), Image.Resampling.LANCZOS
    )
    variant = httpx.get(urls[0], timeout=60)
    quality = psnr(reference, decode(variant.content))
    variant_key = f"variants/{keys[0]}/w{picture.target}.jpg"
    rpc_ms = _mean_ms(rpc_before, rpc_after, "")
    return Cold(
        picture, result, stages, rpc_ms, quality, urls[0], variant_key, cpu_ms, machine_ms, machine_busy, s3_per_request
    )


@contextmanager
def another_download_replica(running: RunningStack) -> Iterator[str]:
    """A second download process with the same settings (another pod of the same Deployment);
    yields its base URL."""
    first = running.services["download"]
    replica = ServiceProcess("download", free_port(), first.env, log_path=running.log_dir / "download-2.log")
    with started([replica], timeout=60):
        yield replica.base_url


def measure_warm(running: RunningStack, cold: Cold, options: Options) -> dict[str, loadgen.Result]:
    """``ours``: one download process; ``ours_2``: two replicas, the connections split evenly."""
    direct = running.s3.generate_presigned_url(
        "get_object", Params={"Bucket": running.bucket, "Key": cold.variant_key}, ExpiresIn=3600
    )
    etag = httpx.get(cold.variant_url, timeout=30).headers["etag"]
    with another_download_replica(running) as second:
        on_second = cold.variant_url.replace(running.download_url, second, 1)
        both = loadgen.repeat([cold.variant_url, on_second], concurrency=options.concurrency, seconds=options.seconds)
    return {
        "ours": loadgen.repeat(cold.variant_url, concurrency=options.concurrency, seconds=options.seconds),
        "ours_2": both,
        "s3": loadgen.repeat(direct, concurrency=options.concurrency, seconds=options.seconds),
        "304": loadgen.repeat(
            cold.variant_url,
            concurrency=options.concurrency,
            seconds=options.seconds,
            headers={"If-None-Match": etag},
            expect=304,
        ),
    }


def cold_rows(colds: list[Cold]) -> list[list[str]]:
    rows = []
    for cold in colds:
        r = cold.result
        s = cold.stages_ms
        known = sum(s[k] for k in STAGES)
        rows.append(
            [
                cold.picture.label,
                f"{r.rate:.1f}",
                f"{r.percentile(0.5):.0f} / {r.percentile(0.95):.0f}",
                " / ".join(f"{s[k]:.1f}" for k in STAGES),
                f"{cold.rpc_ms - known:.1f}",
                f"{statistics.fmean(r.latencies_ms) - cold.rpc_ms:.1f}",
                f"{cold.psnr:.2f}",
                " + ".join(f"{cold.cpu_ms.get(n, float('nan')):.0f}" for n in ("download", "resize", "bridge")),
                " + ".join(f"{cold.cpu_ms.get(n, float('nan')):.0f}" for n in ("seaweedfs", "rabbitmq")),
                f"{cold.machine_ms:.0f} ({cold.machine_busy:.0%} busy)",
                str(r.errors),
            ]
        )
    return rows


def overhead_rows(colds: list[Cold]) -> tuple[list[list[str]], list[str]]:
    """The per-resize overhead table and its checks against the targets."""
    rows, checks = [], []
    for cold in colds:
        ops = cold.s3_requests
        total_ops = sum(ops.values()) if ops else float("nan")
        kinds = ", ".join(f"{kind} {count:.2f}" for kind, count in sorted(ops.items())) or "not counted"
        download = cold.cpu_ms.get("download", float("nan"))
        rows.append(
            [
                cold.picture.label,
                f"{download:.1f}",
                f"{cold.cpu_ms.get('resize', float('nan')):.1f}",
                f"{cold.cpu_ms.get('kernel', float('nan')):.1f}",
                f"{cold.worker_per_kernel:.2f}",
                f"{total_ops:.2f} ({kinds})",
            ]
        )
        checks.append(
            f"- {cold.picture.label}: worker / kernel CPU per resize {cold.worker_per_kernel:.2f} (target <= 1.15: "
            f"{verdict(cold.worker_per_kernel, 1.15, at_least=False)}); download CPU per cold request "
            f"{download:.1f} ms (target <= 3 ms: {verdict(download, 3.0, at_least=False)}); S3 requests per cold "
            f"request {total_ops:.2f} (target <= 3: {verdict(total_ops, 3.0, at_least=False)})"
        )
    return rows, checks


def run(options: Options, shared: dict[str, object] | None = None) -> str:
    with stack() as (running, infra):
        colds = [measure_cold(running, picture, options, infra) for picture in options.photos]
        warm = measure_warm(running, colds[0], options)
    if shared is not None:
        shared["ours_cold"] = colds
        shared["ours_warm"] = warm
    tool = warm["ours"].tool
    ratio_value = warm["ours"].rate / warm["s3"].rate if warm["s3"].rate else 0.0
    overhead, overhead_checks = overhead_rows(colds)
    return "\n".join(
        [
            "## 2. Through the running services",
            "",
            f"Cold: {options.cold_requests} distinct originals per picture, each asked for once "
            f"(`?width=`), {options.concurrency} at a time, from a Python client, once the originals' upload "
            f"events are handled and after {options.warmups} cold requests on other originals (thumbor gets the "
            "same warm-up). Breakdown: means from the "
            "worker's `resize_stage_seconds` histogram (queue = from the download service's send to the "
            "worker taking it), broker/other = resize round trip seen by the download service minus those "
            "stages, download = client latency minus the round trip (the HEAD of the variant, "
            "streaming, HTTP). CPU per request from /proc: our processes (each with its child processes: the "
            "resize worker's kernel processes), then SeaweedFS and RabbitMQ, then "
            "the whole machine (the load generator included) with the share of its 2 cores that was busy.",
            "",
            table(
                [
                    "cold",
                    "req/s",
                    "p50 / p95 ms",
                    "queue / S3 read / kernel / S3 write ms",
                    "broker/other ms",
                    "download ms",
                    "PSNR dB",
                    "CPU ms/req: download + resize + bridge",
                    "SeaweedFS + RabbitMQ",
                    "whole machine",
                    "errors",
                ],
                cold_rows(colds),
            ),
            "",
            "Overhead per resize, from the same cold runs: CPU of the download process per cold request; CPU of "
            "the resize worker per resize, its kernel processes included, and of the kernel processes alone (what "
            "a cluster scales on: the worker's own share is what a resize costs beyond the kernel); S3 requests "
            "per cold request as SeaweedFS counted them on the bucket (it counts a HEAD as a GET).",
            "",
            table(
                [
                    "cold",
                    "download CPU ms/req",
                    "resize worker CPU ms/resize",
                    "kernel processes CPU ms/resize",
                    "worker / kernel",
                    "S3 requests/req",
                ],
                overhead,
            ),
            "",
            *overhead_checks,
            "",
            f"Warm ({colds[0].picture.label} variant, {options.concurrency} connections, "
            f"{options.seconds:.0f} s each, {tool}"
            + (f" with {loadgen.WRK_THREADS} threads" if tool == "wrk" else "")
            + "):",
            "",
            table(
                ["warm", "req/s", "errors"],
                [
                    ["through the download service (`?width=`)", f"{warm['ours'].rate:.0f}", str(warm["ours"].errors)],
                    [
                        "the same through 2 download replicas (connections split evenly)",
                        f"{warm['ours_2'].rate:.0f}",
                        str(warm["ours_2"].errors),
                    ],
                    ["direct S3 GET (pre-signed) of the same object", f"{warm['s3'].rate:.0f}", str(warm["s3"].errors)],
                    ["`If-None-Match` -> 304 through the download service", f"{warm['304'].rate:.0f}", ""],
                ],
            ),
            "",
            f"- warm / direct S3: {ratio(warm['ours'].rate, warm['s3'].rate)} (target >= 0.7: "
            f"{verdict(ratio_value, 0.7)})",
        ]
    )


def main() -> None:
    print(run(parse_options(__doc__ or "")))


if __name__ == "__main__":
    main()
