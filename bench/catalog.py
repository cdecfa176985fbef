"""``listFiles`` with search and tags over 100,000 catalog records, and pre-sign requests per second.

Makes a fresh catalog database on the local PostgreSQL (or a testcontainers one), loads RECORDS
seeded records with COPY, starts the gateway as its own process (``python -m services.gateway``)
against it, a private SeaweedFS and a fresh RabbitMQ vhost, then from a client on loopback:

- times ``listFiles`` as Webiny's admin app sends it (limit 40, ``__typename``s, ``where:
  {tag_not_startsWith: "scope:"}``) in several shapes, sequentially: p50 and p95 per shape;
- runs ``getPreSignedPostPayload`` (which also registers a pending record) from CONCURRENCY
  clients for a fixed time: requests per second.

    .venv/bin/python -m bench.catalog [--records 100000] [--requests 300] [--presign-seconds 10]
                                      [--concurrency 16] [--count-limit 10000] [--without-trigram-index]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from pydantic import SecretStr

from bench.common import Options, table, verdict
from devstack.database import Database, provide_database
from devstack.infra import Infra, provide_infra
from devstack.ports import free_port
from devstack.seaweed import s3_client
from devstack.services import ServiceProcess, started
from services.gateway.app import default_preferences
from services.gateway.catalog.model import ListFilter, ListRequest
from services.gateway.catalog.pool import CatalogPool
from services.gateway.catalog.store import PgCatalog
from services.gateway.devtoken import mint_token
from services.gateway.settings import GatewaySettings
from shared.settings import DEV_JWT_SECRET

WORDS = [
    "holiday", "beach", "sunset", "family", "portrait", "invoice", "report", "contract", "summer", "winter",
    "office", "team", "product", "banner", "logo", "cat", "dog", "garden", "city", "night", "party", "wedding",
    "receipt", "slide", "chart", "mountain", "river", "forest", "kitchen", "design", "draft", "final", "scan",
    "poster", "menu", "ticket",
]  # fmt: skip
TYPES = (
    ["image/jpeg"] * 10
    + ["image/png"] * 5
    + ["image/webp"] * 2
    + ["image/gif", "image/svg+xml", "application/pdf", "application/pdf", "video/mp4", "text/plain"]
)
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif",
              "image/svg+xml": "svg", "application/pdf": "pdf", "video/mp4": "mp4", "text/plain": "txt"}  # fmt: skip
TAGS = [f"tag{i:03d}" for i in range(200)] + WORDS
SCOPES = [f"scope:{s}" for s in ("pages", "blog", "shop", "media")]

FIELDS = "id key name size type src tags createdOn createdBy { id displayName __typename } __typename"
LIST = f"""query ListFiles($limit: Int, $after: String, $types: [String], $tags: [String], $search: String,
  $where: FileWhereInput) {{ fileManager {{ listFiles(limit: $limit, after: $after, types: $types, tags: $tags,
  search: $search, where: $where) {{ data {{ {FIELDS} }} meta {{ cursor totalCount hasMoreItems __typename }}
  error {{ code message data __typename }} __typename }} __typename }} }}"""
PRESIGN = """query GetPreSignedPostPayload($data: PreSignedPostPayloadInput!) { fileManager {
  getPreSignedPostPayload(data: $data) { data { data file { id key name size type __typename } __typename }
  error { code message data __typename } __typename } __typename } }"""
NOT_SCOPED = {"tag_not_startsWith": "scope:"}


SHAPES: dict[str, dict[str, Any]] = {
    "first page (no filter)": {"where": NOT_SCOPED},
    "search": {"search": "sunset", "where": NOT_SCOPED},
    "search + tag": {"search": "beach", "tags": ["tag042"], "where": NOT_SCOPED},
    "tag": {"tags": ["summer"], "where": NOT_SCOPED},
    "tags (2, all of)": {"tags": ["summer", "family"], "where": NOT_SCOPED},
    "types image/* + search": {"types": ["image/*"], "search": "logo", "where": NOT_SCOPED},
    "search without a match": {"search": "zzq", "where": NOT_SCOPED},
}


def list_filter(variables: dict[str, Any]) -> ListFilter:
    """The catalog filter the gateway makes of a shape's variables."""
    where = variables.get("where", {})
    return ListFilter(
        search=variables.get("search"),
        types=tuple(variables.get("types", ())),
        tags_all=tuple(variables.get("tags", ())),
        tag_not_starts_with=where.get("tag_not_startsWith"),
    )


async def time_catalog(settings: GatewaySettings, requests: int) -> dict[str, Any]:
    """The same shapes against the catalog alone (in-process, through the gateway's pool)."""
    pool = CatalogPool(settings)
    await pool.open()
    catalog = PgCatalog(pool, default_preferences(settings), count_limit=settings.list_count_limit)
    out: dict[str, Any] = {}
    try:
        for label, variables in SHAPES.items():
            request = ListRequest(list_filter(variables), limit=40)
            timings = []
            for i in range(requests + 20):
                started = time.perf_counter()
                await catalog.list(request)
                if i >= 20:
                    timings.append((time.perf_counter() - started) * 1000)
            out[label] = {"p50_ms": round(statistics.median(timings), 2), "p95_ms": round(percentile(timings, 0.95), 2)}
    finally:
        await pool.close()
    return out


def records(count: int, seed: int = 7) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(seed)
    start = datetime(2025, 11, 24, tzinfo=UTC)
    for i in range(count):
        file_id = uuid.UUID(int=rng.getrandbits(128)).hex
        mime = rng.choice(TYPES)
        name = f"{'-'.join(rng.sample(WORDS, 2))}-{i}.{EXTENSIONS[mime]}"
        tags = rng.sample(TAGS, rng.randint(0, 4))
        if rng.random() < 0.2:
            tags.append(rng.choice(SCOPES))
        created = start + timedelta(seconds=i * 315 + rng.randint(0, 300))
        user = f"user{rng.randint(1, 50)}"
        yield (
            file_id, f"{file_id}/{name}", name, mime, rng.randint(1_000, 5_000_000), "ready", tags, "{}",
            user, user.title(), created, created, uuid.uuid4().hex,
        )  # fmt: skip


async def load(url: str, count: int, *, trigram_index: bool = True) -> float:
    started = time.perf_counter()
    conn = await asyncpg.connect(url)
    try:
        await conn.copy_records_to_table(
            "files",
            records=records(count),
            columns=["id", "key", "name", "type", "size", "status", "tags", "meta", "created_by",
                     "created_by_name", "created_on", "saved_on", "etag"],
        )  # fmt: skip
        if not trigram_index:  # what a server without contrib's pg_trgm gets
            await conn.execute("DROP INDEX IF EXISTS files_ready_name_trgm")
        await conn.execute("ANALYZE files")
    finally:
        await conn.close()
    return time.perf_counter() - started


@contextmanager
def gateway(infra: Infra, database_url: str, log_dir: Path, count_limit: int) -> Iterator[str]:
    vhost = f"files-bench-{uuid.uuid4().hex[:12]}"
    bucket = f"bench-{uuid.uuid4().hex[:12]}"
    infra.add_vhost(vhost)
    s3_client(infra.s3_endpoint_url, infra.access_key, infra.secret_key).create_bucket(Bucket=bucket)
    env = {
        "DEV_MODE": "true",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "WARNING",
        "AMQP_URL": infra.amqp_url(vhost),
        "S3_ENDPOINT_URL": infra.s3_endpoint_url,
        "S3_ACCESS_KEY": infra.access_key,
        "S3_SECRET_KEY": infra.secret_key,
        "S3_BUCKET": bucket,
        "DATABASE_URL": database_url,
        "LIST_COUNT_LIMIT": str(count_limit),
        "MAX_PENDING_UPLOADS_PER_USER": "1000000",  # one user pre-signs for seconds without uploading
    }
    process = ServiceProcess("gateway", free_port(), env, log_path=log_dir / "gateway.log")
    try:
        with started([process], timeout=60):
            yield f"{process.base_url}/graphql"
    finally:
        infra.delete_vhost(vhost)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def time_list(client: httpx.Client, url: str, variables: dict[str, Any], requests: int) -> dict[str, Any]:
    body = [{"operationName": "ListFiles", "variables": {"limit": 40, **variables}, "query": LIST}]
    timings: list[float] = []
    result: Any = None
    for i in range(requests + 20):
        started = time.perf_counter()
        response = client.post(url, json=body)
        elapsed = (time.perf_counter() - started) * 1000
        response.raise_for_status()
        result = response.json()[0]["data"]["fileManager"]["listFiles"]
        if result["error"]:
            raise RuntimeError(result["error"])
        if i >= 20:  # warm-up
            timings.append(elapsed)
    return {
        "p50_ms": round(statistics.median(timings), 2),
        "p95_ms": round(percentile(timings, 0.95), 2),
        "items": len(result["data"]),
        "total": result["meta"]["totalCount"],
    }


async def presign_rate(url: str, auth: dict[str, str], seconds: float, concurrency: int) -> dict[str, Any]:
    done = 0
    failed = 0
    deadline = time.perf_counter() + seconds

    async def worker(client: httpx.AsyncClient, n: int) -> None:
        nonlocal done, failed
        i = 0
        while time.perf_counter() < deadline:
            i += 1
            variables = {"data": {"name": f"upload-{n}-{i}.jpg", "type": "image/jpeg", "size": 2_000_000}}
            response = await client.post(url, json={"query": PRESIGN, "variables": variables}, headers=auth)
            payload = response.json()["data"]["fileManager"]["getPreSignedPostPayload"]
            if response.status_code == 200 and payload["error"] is None:
                done += 1
            else:
                failed += 1

    started = time.perf_counter()
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        await asyncio.gather(*(worker(client, n) for n in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {"requests": done, "failed": failed, "seconds": round(elapsed, 1), "per_second": round(done / elapsed)}


def measure_gateway(url: str, requests: int, presign_seconds: float, concurrency: int) -> dict[str, Any]:
    auth = {"authorization": f"Bearer {mint_token(DEV_JWT_SECRET, subject='bench')}"}
    out: dict[str, Any] = {}
    with httpx.Client(headers=auth, timeout=30) as client:
        for label, variables in SHAPES.items():
            out[label] = time_list(client, url, variables, requests)
        first = client.post(url, json={"query": LIST, "variables": {"limit": 40, "search": "beach"}}).json()
        cursor = first["data"]["fileManager"]["listFiles"]["meta"]["cursor"]
        out["search, page 2 (cursor)"] = time_list(client, url, {"search": "beach", "after": cursor}, requests)
    out["presign"] = asyncio.run(presign_rate(url, auth, presign_seconds, concurrency))
    return out


TARGET_P95_MS = 20.0


def measure(
    records_count: int,
    requests: int,
    presign_seconds: float,
    concurrency: int,
    count_limit: int,
    *,
    trigram_index: bool = True,
) -> dict[str, Any]:
    """A fresh catalog of ``records_count`` records, timed in-process and through a gateway process."""
    with provide_database() as database, provide_infra() as infra, tempfile.TemporaryDirectory() as tmp:
        url = asyncio.run(_fresh(database))
        load_seconds = asyncio.run(load(url, records_count, trigram_index=trigram_index))
        print(f"loaded {records_count} records with COPY in {load_seconds:.1f} s", flush=True)
        settings = GatewaySettings(dev_mode=True, database_url=SecretStr(url), list_count_limit=count_limit)
        catalog_alone = asyncio.run(time_catalog(settings, requests))
        with gateway(infra, url, Path(tmp), count_limit) as graphql:
            results = measure_gateway(graphql, requests, presign_seconds, concurrency)
    results["catalog alone (in-process, no HTTP/GraphQL)"] = catalog_alone
    results["machine"] = f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}"
    results["records"] = records_count
    results["trigram_index"] = trigram_index
    results["count_limit"] = count_limit
    return results


def report(results: dict[str, Any], presign_seconds: float, concurrency: int) -> str:
    """Section 5 of docs/BENCHMARKS.md from one run of ``measure``."""
    alone = results["catalog alone (in-process, no HTTP/GraphQL)"]
    rows = []
    worst = 0.0
    for label in [*SHAPES, "search, page 2 (cursor)"]:
        shape = results[label]
        worst = max(worst, shape["p95_ms"])
        inner = alone.get(label, {})
        rows.append(
            [
                label,
                f"{shape['total']:,}" if shape["total"] is not None else "-",
                f"{shape['p50_ms']:.1f}",
                f"{shape['p95_ms']:.1f}",
                f"{inner['p50_ms']:.1f} / {inner['p95_ms']:.1f}" if inner else "",
            ]
        )
    presign = results["presign"]
    return "\n\n".join(
        [
            f"## 5. `listFiles` over {results['records']:,} catalog records, and pre-sign requests per second",
            f"`listFiles` as Webiny's admin app sends it (batched, `limit: 40`, `__typename`s, "
            f'`where: {{tag_not_startsWith: "scope:"}}`), through a gateway process, one request at a time '
            f"after 20 warm-ups; `totalCount` counted up to {results['count_limit']:,}. Notes at the end.",
            table(
                ["shape", "totalCount", "p50 ms at the gateway", "p95 ms at the gateway", "catalog alone p50 / p95 ms"],
                rows,
            ),
            f"- worst p95 at the gateway: {worst:.1f} ms (target < {TARGET_P95_MS:.0f} ms: "
            f"{verdict(worst, TARGET_P95_MS, at_least=False)})\n"
            f"- pre-sign (`getPreSignedPostPayload`, {concurrency} clients, {presign_seconds:.0f} s): "
            f"**{presign['per_second']} requests/s**, {presign['failed']} failed",
        ]
    )


def run(options: Options, shared: dict[str, object] | None = None) -> str:
    """The step of ``python -m bench``: 100,000 records, or 2,000 in a smoke run."""
    if options.smoke:
        records_count, requests, presign_seconds = 2_000, 5, 1.0
    else:
        records_count, requests, presign_seconds = 100_000, 300, options.seconds
    concurrency = 16
    results = measure(records_count, requests, presign_seconds, concurrency, 10_000)
    return report(results, presign_seconds, concurrency)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.catalog")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--presign-seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--count-limit", type=int, default=10_000, help="LIST_COUNT_LIMIT of the gateway")
    parser.add_argument("--without-trigram-index", action="store_true", help="measure the search fallback")
    args = parser.parse_args()
    results = measure(
        args.records,
        args.requests,
        args.presign_seconds,
        args.concurrency,
        args.count_limit,
        trigram_index=not args.without_trigram_index,
    )
    print(json.dumps(results, indent=2))
    print(report(results, args.presign_seconds, args.concurrency))


async def _fresh(database: Database) -> str:
    return await database.clone()


if __name__ == "__main__":
    main()
