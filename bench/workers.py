"""4. Resize throughput with 1 and 2 workers on the same queue, and one worker with 2 kernel processes.

Puts distinct originals in a fresh bucket, starts the resize workers as processes on a fresh
vhost, publishes every request at once and times until the last reply. Configurations:
1 worker x 1 kernel process, 2 workers x 1, 1 worker x 2 kernel processes (the default on 2
cores). Before the kernel ran in processes, the last one was "1 process x 2 threads".

    .venv/bin/python -m bench.workers [--cold-requests 48] [--smoke]
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import aio_pika
import httpx

from bench.common import Options, parse_options, table, verdict
from bench.pictures import Picture, load
from devstack.infra import Infra, provide_infra
from devstack.ports import free_port
from devstack.seaweed import s3_client
from devstack.services import ServiceProcess, started
from shared.broker import RESIZE_QUEUE, RpcClient
from shared.keys import new_file_id
from shared.messages import ResizeReply, ResizeRequest

Config = tuple[int, int]
CONFIGURATIONS: tuple[Config, ...] = ((1, 1), (2, 1), (1, 2))  # (processes, threads each)


@contextmanager
def workers(
    infra: Infra, amqp_url: str, bucket: str, processes: int, threads: int, logs: Path
) -> Iterator[list[ServiceProcess]]:
    env = {
        "AMQP_URL": amqp_url,
        "S3_ENDPOINT_URL": infra.s3_endpoint_url,
        "S3_ACCESS_KEY": infra.access_key,
        "S3_SECRET_KEY": infra.secret_key,
        "S3_BUCKET": bucket,
        "DEV_MODE": "true",
        "LOG_FORMAT": "json",
        "WORKER_PROCESSES": str(threads),
        "SPARE_PROCESSES": "0",
    }
    running = [
        ServiceProcess("resize", free_port(), env, log_path=logs / f"resize-{processes}x{threads}-{i}.log")
        for i in range(processes)
    ]
    with started(running, timeout=60):
        yield running


async def _resize_all(amqp_url: str, keys: list[str], width: int, *, check: bool = True) -> float:
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        rpc = await RpcClient.create(connection)
        started = time.perf_counter()
        bodies = await asyncio.gather(
            *(rpc.call(RESIZE_QUEUE, ResizeRequest(key, width, "jpeg").to_json(), timeout=300) for key in keys)
        )
        elapsed = time.perf_counter() - started
    finally:
        await connection.close()
    failed = [r for r in (ResizeReply.from_json(b) for b in bodies) if r.status != "ok"]
    if failed and check:
        raise RuntimeError(f"{len(failed)} resizes failed: {failed[0]}")
    return elapsed


def measure(options: Options, picture: Picture) -> tuple[dict[Config, float], dict[Config, list[int]]]:
    rates: dict[tuple[int, int], float] = {}
    shares: dict[tuple[int, int], list[int]] = {}
    with provide_infra() as infra, tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp, ExitStack() as stack:
        vhost = f"bench-workers-{uuid.uuid4().hex[:12]}"
        infra.add_vhost(vhost)
        stack.callback(infra.delete_vhost, vhost)
        amqp_url = infra.amqp_url(vhost)
        bucket = f"bench-{uuid.uuid4().hex[:12]}"
        s3 = s3_client(infra.s3_endpoint_url, infra.access_key, infra.secret_key)
        s3.create_bucket(Bucket=bucket)
        data = load(picture)
        count = max(options.cold_requests, 4)
        for processes, threads in CONFIGURATIONS:
            keys = [f"{new_file_id()}/{picture.name}" for _ in range(count)]
            for key in keys:
                s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType="image/jpeg")
            with workers(infra, amqp_url, bucket, processes, threads, Path(tmp)) as running:
                warm_up = [f"{new_file_id()}/missing.jpg" for _ in range(processes * threads)]
                asyncio.run(_resize_all(amqp_url, warm_up, picture.target, check=False))
                elapsed = asyncio.run(_resize_all(amqp_url, keys, picture.target))
                shares[(processes, threads)] = [_resized(p) for p in running]
            rates[(processes, threads)] = count / elapsed
    return rates, shares


def _resized(process: ServiceProcess) -> int:
    for line in httpx.get(f"{process.base_url}/metrics", timeout=10).text.splitlines():
        if line.startswith('resize_jobs_total{outcome="resized"}'):
            return round(float(line.rsplit(" ", 1)[1]))
    return 0


def run(options: Options, shared: dict[str, object] | None = None) -> str:
    picture = options.photos[0]
    rates, shares = measure(options, picture)
    single = rates[(1, 1)]
    rows = [
        [
            f"{p} worker{'s' if p > 1 else ''} x {t} kernel process{'es' if t > 1 else ''}",
            f"{rate:.1f}",
            f"{rate / single:.2f}x",
            " / ".join(str(n) for n in shares[(p, t)]),
        ]
        for (p, t), rate in rates.items()
    ]
    two = rates[(2, 1)] / single
    return "\n".join(
        [
            "## 4. Resize throughput: workers and kernel processes",
            "",
            f"{max(options.cold_requests, 4)} distinct {picture.label} resizes published at once to `resize.requests`, "
            "timed to the last reply (S3 read and write included).",
            "",
            table(["workers", "resizes/s", "vs 1 x 1", "jobs per worker"], rows),
            "",
            f"- 2 workers / 1 worker: {two:.2f}x (target >= 1.8: {verdict(two, 1.8)})",
            f"- at 2-way parallelism: 1 worker x 2 kernel processes {rates[(1, 2)]:.1f}/s, "
            f"2 workers x 1 {rates[(2, 1)]:.1f}/s",
        ]
    )


def main() -> None:
    print(run(parse_options(__doc__ or "")))


if __name__ == "__main__":
    main()
