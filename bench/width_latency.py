"""First (uncached) and second (cached) ``?width=`` latency on 12-megapixel JPEGs, end to end.

Starts the five services as processes against a private SeaweedFS and a fresh vhost (as the
end-to-end tests do), uploads ROUNDS distinct 4000x3000 JPEGs through pre-signed POSTs, then for
each one times a first request (a resize through RabbitMQ) and a second one (served from S3).

    .venv/bin/python -m bench.width_latency [--rounds 11] [--width 750]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from devstack.infra import provide_infra
from devstack.photos import jpeg_bytes
from devstack.services import StackPorts
from devstack.stack import running_stack
from services.gateway.devtoken import mint_token
from shared.settings import DEV_JWT_SECRET

PAYLOAD = """query($d: PreSignedPostPayloadInput!) { fileManager { getPreSignedPostPayload(data: $d) {
  data { data file { key } } error { code message } } } }"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--width", type=int, default=750)
    args = parser.parse_args()
    with provide_infra() as infra, tempfile.TemporaryDirectory() as tmp, running_stack(infra, Path(tmp)) as stack:
        run(stack.ports, args.rounds, args.width)


def run(ports: StackPorts, rounds: int, width: int) -> None:
    tok = mint_token(DEV_JWT_SECRET)
    gql = f"http://127.0.0.1:{ports.gateway}/graphql"
    keys = []
    for i in range(rounds):
        data = jpeg_bytes(4000, 3000, seed=100 + i)
        resp = httpx.post(
            gql,
            json={
                "query": PAYLOAD,
                "variables": {"d": {"name": f"p{i}.jpg", "type": "image/jpeg", "size": len(data)}},
            },
            headers={"Authorization": f"Bearer {tok}"},
        ).json()["data"]["fileManager"]["getPreSignedPostPayload"]["data"]
        form = resp["data"]
        up = httpx.post(form["url"], data=form["fields"], files={"file": ("p.jpg", data)}, timeout=60)
        assert up.status_code == 204, up.text
        keys.append(resp["file"]["key"])
    first: list[float] = []
    second: list[float] = []
    with httpx.Client(timeout=60) as client:
        client.get(f"http://127.0.0.1:{ports.download}/healthz")
        for key in keys:
            url = f"http://127.0.0.1:{ports.download}/files/{key}"
            for bucket_ in (first, second):
                started = time.perf_counter()
                resp = client.get(url, params={"width": width})
                bucket_.append((time.perf_counter() - started) * 1000)
                assert resp.status_code == 200, resp.text
    print(f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}")
    print(f"12 MP JPEG (4000x3000) -> width {width}, {rounds} distinct originals")
    print(f"first (uncached) request: median {statistics.median(first):.0f} ms  (all: {[round(x) for x in first]})")
    print(
        f"second (cached) request:  median {statistics.median(second):.1f} ms  (all: {[round(x, 1) for x in second]})"
    )


if __name__ == "__main__":
    main()
