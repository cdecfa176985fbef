"""The Python client (clients/python) next to boto3, and the ``fileservice`` command's start-up.

Starts the five services on free ports (``devstack.stack``, fresh vhost, bucket and catalog
database), then, alternating round by round:

- uploads one file of SIZE random bytes with ``fileservice.Client.upload`` (sync, and the async
  client): the gateway's ``createMultiPartUpload``, the part ``PUT``s straight to SeaweedFS,
  ``completeMultiPartUpload`` (which joins the parts and registers the record);
- uploads the same file with boto3's ``upload_file`` (its default TransferConfig: 8 MiB parts, 10
  threads) to the same SeaweedFS and bucket with the bucket's own credentials, as ``aws s3 cp`` does;

and times ``fileservice --help`` (no request: the start-up a user waits for) and ``fileservice ls
--json`` against the running gateway, over many runs, next to ``python -c pass``.

    .venv/bin/python -m bench.client [--size-mib 100] [--rounds 5] [--runs 21]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fileservice import AsyncClient, Client

from bench.common import Options, ratio, table
from devstack.infra import provide_infra
from devstack.seaweed import s3_client
from devstack.stack import RunningStack, running_stack
from services.gateway.devtoken import mint_token
from shared.settings import DEV_JWT_SECRET

MiB = 1024**2
FILESERVICE = Path(sys.executable).with_name("fileservice")


def timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def median_run(argv: list[str], runs: int, env: dict[str, str] | None = None) -> tuple[float, float]:
    """The median wall time and CPU time (user + system) of a command, in milliseconds, after one
    warm-up run. The CPU time hardly depends on how busy the machine is; the wall time does."""
    walls, cpus = [], []
    for n in range(runs + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if n:
            walls.append(wall * 1000)
            cpus.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
    return statistics.median(walls), statistics.median(cpus)


def measure(size: int, rounds: int, runs: int) -> dict[str, Any]:
    with provide_infra() as infra, tempfile.TemporaryDirectory(prefix="bench-client-") as tmp:
        work = Path(tmp)
        source = work / "upload.bin"
        with source.open("wb") as out:
            for _ in range(size // MiB):
                out.write(os.urandom(MiB))
            out.write(os.urandom(size % MiB))
        (work / "logs").mkdir()
        with running_stack(infra, work / "logs") as stack:
            return measure_on(stack, infra.s3_endpoint_url, infra.access_key, infra.secret_key, source, rounds, runs)


def measure_on(
    stack: RunningStack, endpoint: str, access_key: str, secret_key: str, source: Path, rounds: int, runs: int
) -> dict[str, Any]:
    token = mint_token(DEV_JWT_SECRET, subject="bench")
    s3 = s3_client(endpoint, access_key, secret_key)
    sync_times: list[float] = []
    async_times: list[float] = []
    boto_times: list[float] = []
    size = source.stat().st_size
    with Client(stack.gateway_url, token) as client:

        def client_upload() -> None:
            file = client.upload(source)
            assert file.size == size
            client.delete(file)

        async def async_upload() -> None:
            async with AsyncClient(stack.gateway_url, token) as aclient:
                file = await aclient.upload(source)
                assert file.size == size
                await aclient.delete(file)

        def boto_upload() -> None:
            key = f"bench/{uuid.uuid4().hex}/upload.bin"
            s3.upload_file(str(source), stack.bucket, key)
            s3.delete_object(Bucket=stack.bucket, Key=key)

        parts = -(-size // client.options.part_size)
        for _ in range(rounds):
            sync_times.append(timed(client_upload))
            boto_times.append(timed(boto_upload))
            async_times.append(timed(lambda: asyncio.run(async_upload())))

    env = {**os.environ, "FILESERVICE_GATEWAY": stack.gateway_url, "FILESERVICE_TOKEN": token}
    startup = {
        "python -c pass": median_run([sys.executable, "-c", "pass"], runs),
        "fileservice --help": median_run([str(FILESERVICE), "--help"], runs),
        "python -c 'import fileservice.client'": median_run([sys.executable, "-c", "import fileservice.client"], runs),
        "fileservice ls --json (one listFiles)": median_run([str(FILESERVICE), "ls", "--json"], runs, env),
    }
    return {
        "size": size,
        "rounds": rounds,
        "runs": runs,
        "parts": parts,
        "part_size": client.options.part_size,
        "concurrency": client.options.concurrency,
        "seconds": {
            "client": statistics.median(sync_times),
            "async": statistics.median(async_times),
            "boto3": statistics.median(boto_times),
        },
        "startup_ms": startup,
        "load": os.getloadavg(),
    }


def report(results: dict[str, Any]) -> str:
    size, seconds = results["size"], results["seconds"]
    mib = size / MiB

    def rate(s: float) -> str:
        return f"{mib / s:.0f} MiB/s"

    client_how = (
        f"{results['parts']} parts of {results['part_size'] // MiB} MiB, {results['concurrency']} at a time, "
        "through createMultiPartUpload / completeMultiPartUpload"
    )
    rows = [
        ["`fileservice.Client.upload` (sync)", client_how, f"{seconds['client']:.2f}", rate(seconds["client"])],
        ["`fileservice.AsyncClient.upload`", "the same, asyncio", f"{seconds['async']:.2f}", rate(seconds["async"])],
        [
            "boto3 `upload_file`",
            "8 MiB parts, 10 threads, the bucket's own keys",
            f"{seconds['boto3']:.2f}",
            rate(seconds["boto3"]),
        ],
    ]
    startup = [[f"`{name}`", f"{wall:.0f}", f"{cpu:.0f}"] for name, (wall, cpu) in results["startup_ms"].items()]
    load = ", ".join(f"{x:.1f}" for x in results["load"])
    return "\n".join(
        [
            "## 8. The Python client and the `fileservice` command",
            "",
            f"One file of {mib:.0f} MiB (random bytes) uploaded to the same SeaweedFS and bucket, medians of "
            f"{results['rounds']} rounds taken in turn (`python -m bench.client`). The client's time includes its "
            "GraphQL calls and the record's registration; boto3 writes the object only.",
            "",
            table(["upload", "how", "seconds", "throughput"], rows),
            "",
            f"Client / boto3: {ratio(seconds['boto3'], seconds['client'])} of boto3's speed. "
            f"Start-up: medians of {results['runs']} runs, in milliseconds (load average at the end: {load}; "
            "wall times grow with the load, CPU times hardly).",
            "",
            table(["command", "wall ms", "CPU ms (user + sys)"], startup),
        ]
    )


def run(options: Options, shared: dict[str, object] | None = None) -> str:
    """The step of ``python -m bench``: 100 MiB and 5 rounds, or 12 MiB once in a smoke run."""
    if options.smoke:
        return report(measure(12 * MiB, 1, 3))
    return report(measure(100 * MiB, 5, 21))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.client")
    parser.add_argument("--size-mib", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=21, help="runs of each command whose start-up is timed")
    args = parser.parse_args()
    results = measure(args.size_mib * MiB, args.rounds, args.runs)
    print(json.dumps(results, indent=2), file=sys.stderr)
    print(report(results))


if __name__ == "__main__":
    main()
