"""CPU per call of three S3 clients for the hot calls (HEAD, GET, PUT), against one endpoint.

Runs in its own virtualenv (``bench/s3clients.py`` makes it: aiobotocore pins its own botocore),
so it imports nothing of the project. Each client makes ``--calls`` calls of each kind, one at a
time, after a warm-up; the figure is the process's CPU time (``time.process_time``: every thread,
the Rust runtime's and the executor's too) divided by the calls. boto3 runs as the services run
it: each call on a thread of an executor, awaited from asyncio. Prints one JSON object.

    python bench/s3clients_probe.py --endpoint http://127.0.0.1:8333 --bucket b --calls 200
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

ACCESS, SECRET = "dev", "devsecret"


def sizes() -> dict[str, bytes]:
    """The objects of a cold request: a 12 MP JPEG original (about 0.7 MB) and a 100 KB variant."""
    return {"original": os.urandom(700 * 1024), "variant": os.urandom(100 * 1024)}


async def measure(calls: int, op: Callable[[int], Awaitable[Any]]) -> float:
    for i in range(min(10, calls)):
        await op(i)
    started = time.process_time()
    for i in range(calls):
        await op(i)
    return (time.process_time() - started) / calls * 1000


async def boto3_ops(endpoint: str, bucket: str, data: dict[str, bytes]) -> dict[str, Callable[[int], Awaitable[Any]]]:
    import boto3
    from botocore.client import Config

    client = boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS,
        aws_secret_access_key=SECRET,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, max_pool_connections=8),
    )
    pool = ThreadPoolExecutor(8)

    async def run(func: Callable[..., Any], **kwargs: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(pool, functools.partial(func, **kwargs))

    async def get(key: str) -> bytes:
        resp = await run(client.get_object, Bucket=bucket, Key=key)
        return await run(resp["Body"].read)  # type: ignore[no-any-return]

    return {
        "HEAD": lambda i: run(client.head_object, Bucket=bucket, Key="variant"),
        "GET 700 KB": lambda i: get("original"),
        "GET 100 KB": lambda i: get("variant"),
        "PUT 100 KB": lambda i: run(
            client.put_object, Bucket=bucket, Key=f"boto3/{i}", Body=data["variant"], ContentType="image/jpeg"
        ),
    }


async def aiobotocore_ops(
    endpoint: str, bucket: str, data: dict[str, bytes], holder: list[Any]
) -> dict[str, Callable[[int], Awaitable[Any]]]:
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    context = get_session().create_client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS,
        aws_secret_access_key=SECRET,
        config=AioConfig(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    client = await context.__aenter__()
    holder.append(context)

    async def get(key: str) -> bytes:
        resp = await client.get_object(Bucket=bucket, Key=key)
        async with resp["Body"] as body:
            return await body.read()  # type: ignore[no-any-return]

    return {
        "HEAD": lambda i: client.head_object(Bucket=bucket, Key="variant"),
        "GET 700 KB": lambda i: get("original"),
        "GET 100 KB": lambda i: get("variant"),
        "PUT 100 KB": lambda i: client.put_object(
            Bucket=bucket, Key=f"aiobotocore/{i}", Body=data["variant"], ContentType="image/jpeg"
        ),
    }


async def obstore_ops(endpoint: str, bucket: str, data: dict[str, bytes]) -> dict[str, Callable[[int], Awaitable[Any]]]:
    import obstore
    from obstore.store import S3Store

    store = S3Store(
        bucket,
        endpoint=endpoint,
        region="us-east-1",
        access_key_id=ACCESS,
        secret_access_key=SECRET,
        virtual_hosted_style_request=False,
        client_options={"allow_http": True},
    )

    async def get(key: str) -> bytes:
        resp = await obstore.get_async(store, key)
        return bytes(await resp.bytes_async())

    async def head_with_type(key: str) -> Any:  # a HEAD that also gives the content type
        resp = await obstore.get_async(store, key, options={"head": True})
        return resp.meta, resp.attributes

    return {
        "HEAD": lambda i: head_with_type("variant"),
        "GET 700 KB": lambda i: get("original"),
        "GET 100 KB": lambda i: get("variant"),
        "PUT 100 KB": lambda i: obstore.put_async(
            store, f"obstore/{i}", data["variant"], attributes={"Content-Type": "image/jpeg"}
        ),
    }


async def main_async(endpoint: str, bucket: str, calls: int) -> dict[str, dict[str, float]]:
    import boto3

    data = sizes()
    setup = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=ACCESS, aws_secret_access_key=SECRET
    )
    for key, body in data.items():
        setup.put_object(Bucket=bucket, Key=key, Body=body, ContentType="image/jpeg")
    holder: list[Any] = []
    clients = {"boto3 (on an executor thread)": await boto3_ops(endpoint, bucket, data)}
    with contextlib.suppress(ImportError):  # not installed where the smoke run runs it (the project's venv)
        clients["aiobotocore"] = await aiobotocore_ops(endpoint, bucket, data, holder)
    clients["obstore"] = await obstore_ops(endpoint, bucket, data)
    results: dict[str, dict[str, float]] = {}
    for name, ops in clients.items():
        results[name] = {op: await measure(calls, call) for op, call in ops.items()}
    for context in holder:
        await context.__aexit__(None, None, None)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in ("boto3", "aiobotocore", "obstore"):
        with contextlib.suppress(PackageNotFoundError):
            versions[name] = version(name)
    results = asyncio.run(main_async(args.endpoint, args.bucket, args.calls))
    print(json.dumps({"versions": versions, "results": results}))


if __name__ == "__main__":
    main()
