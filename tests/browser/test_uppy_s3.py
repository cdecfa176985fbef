"""Uppy 6's AWS S3 plugin, as published on the npm registry, uploads through the gateway in Chromium:
multipart with every S3 call signed one at a time (``signRequest``: create, each part, list, complete,
abort on cancel), and a small file by the pre-signed POST form.

The packages (``@uppy/core@6``, ``@uppy/aws-s3@6``) and esbuild are installed at test time into
``.cache/npm`` (git-ignored); esbuild joins them into one ES module for the test page (the plugin's
dependencies include CommonJS modules a browser cannot import as they are). The test skips, saying
why, when npm or the registry is not available.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from devstack.stack import RunningStack
from services.gateway.devtoken import mint_token
from shared.settings import DEV_JWT_SECRET
from tests.browser.conftest import MiB
from tests.support.servers import InProcessServer

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "npm"
PACKAGES = ["@uppy/core@6", "@uppy/aws-s3@6", "esbuild@0"]
HERE = Path(__file__).parent
PAGE = """<!doctype html><meta charset="utf-8"><title>Uppy 6 and the gateway</title>
<!-- Uppy (MIT licence, https://uppy.io): /uppy/LICENSE -->
<script type="module" src="/page.mjs"></script><p>Uppy</p>"""


def _npm(*args: str) -> None:
    subprocess.run(["npm", *args], cwd=CACHE, check=True, capture_output=True, timeout=300)


@pytest.fixture(scope="session")
def uppy_bundle() -> Path:
    """Uppy 6 from the npm registry, joined into one ES module (built once; reused while cached)."""
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    CACHE.mkdir(parents=True, exist_ok=True)
    if not (CACHE / "package.json").exists():
        (CACHE / "package.json").write_text('{"name": "fileservice-test-npm", "private": true}\n')
    if not (CACHE / "node_modules" / "@uppy" / "aws-s3").exists():
        try:
            _npm("install", "--no-audit", "--no-fund", "--prefix", ".", *PACKAGES)
        except (subprocess.SubprocessError, OSError) as exc:
            pytest.skip(f"npm could not install {' '.join(PACKAGES)}: {exc}")
    entry = CACHE / "uppy-entry.mjs"
    entry.write_text(
        'export { default as Uppy } from "@uppy/core";\nexport { default as AwsS3 } from "@uppy/aws-s3";\n'
    )
    bundle = CACHE / "uppy.mjs"
    subprocess.run(
        [str(CACHE / "node_modules" / ".bin" / "esbuild"), str(entry), "--bundle", "--format=esm",
         "--legal-comments=inline", f"--outfile={bundle}"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return bundle


def installed_version(package: str) -> str:
    meta = json.loads((CACHE / "node_modules" / package / "package.json").read_text())
    return str(meta["version"])


@pytest.fixture
async def uppy_origin(uppy_bundle: Path, serve_app: Callable[..., Awaitable[InProcessServer]]) -> str:
    licence = CACHE / "node_modules" / "@uppy" / "aws-s3" / "LICENSE"

    def static(path: Path, media_type: str) -> Callable[[Request], Awaitable[Response]]:
        content = path.read_bytes()

        async def send(_: Request) -> Response:
            return Response(content, media_type=media_type)

        return send

    async def page(_: Request) -> Response:
        return HTMLResponse(PAGE)

    app = Starlette(
        routes=[
            Route("/", page),
            Route("/uppy.mjs", static(uppy_bundle, "text/javascript")),
            Route("/page.mjs", static(HERE / "uppy_page.mjs", "text/javascript")),
            Route("/uppy/LICENSE", static(licence, "text/plain")),
        ]
    )
    return (await serve_app(app)).url


async def open_uppy(chromium: Any, url: str) -> tuple[Any, Any]:
    context = await chromium.new_context()
    page = await context.new_page()
    await page.goto(url)
    await page.wait_for_function("() => typeof window.uploadWithUppy === 'function'", timeout=30_000)
    return context, page


def uploads_of(stack: RunningStack, key: str) -> list[str]:
    listed = stack.s3.list_multipart_uploads(Bucket=stack.bucket, Prefix=key)
    return [u["UploadId"] for u in listed.get("Uploads", [])]


async def test_uppy_uploads_in_parts_signed_call_by_call(chromium: Any, uppy_origin: str, stack: RunningStack) -> None:
    assert installed_version("@uppy/aws-s3").startswith("6.") and installed_version("@uppy/core").startswith("6.")
    context, page = await open_uppy(chromium, uppy_origin)
    token = mint_token(DEV_JWT_SECRET, subject="uppy-user")
    big, small = 11 * MiB + 5, 1000
    try:
        result = await page.evaluate(
            "([g, t, sizes]) => window.uploadWithUppy(g, t, sizes)", [stack.gateway_url, token, [big, small]]
        )
    finally:
        await context.close()
    assert result["failed"] == [], result
    calls = [(c["method"], c["uploadId"], c["partNumber"]) for c in result["calls"]]
    multipart = [c for c in calls if c != ("PUT", False, None)]
    assert multipart == [
        ("POST", False, None),  # CreateMultipartUpload
        ("PUT", True, 1),
        ("PUT", True, 2),
        ("PUT", True, 3),
        ("POST", True, None),  # CompleteMultipartUpload
    ], calls
    assert ("PUT", False, None) in calls, "the small file went by the POST form"
    assert result["parts"] == [1, 2, 3] and len(result["progress"]) > 3
    records = {r["name"]: r for r in result["records"]}
    assert records["uppy-0.bin"]["size"] == big and records["uppy-1.bin"]["size"] == small
    body = await asyncio.to_thread(
        lambda: stack.s3.get_object(Bucket=stack.bucket, Key=records["uppy-0.bin"]["key"])["Body"].read()
    )
    assert body == bytes(i % 251 for i in range(big))
    head = stack.s3.head_object(Bucket=stack.bucket, Key=records["uppy-0.bin"]["key"])
    assert head["Metadata"]["created-by"] == "uppy-user"


async def test_uppy_cancel_aborts_the_upload(chromium: Any, uppy_origin: str, stack: RunningStack) -> None:
    context, page = await open_uppy(chromium, uppy_origin)
    token = mint_token(DEV_JWT_SECRET, subject="uppy-user")
    try:
        trace = await page.evaluate(
            "([g, t, size]) => window.cancelWithUppy(g, t, size)", [stack.gateway_url, token, 16 * MiB]
        )
    finally:
        await context.close()
    assert trace["aborted"], trace
    assert [c["method"] for c in trace["calls"]][-1] == "DELETE"
    (key,) = trace["keys"]
    assert uploads_of(stack, key) == [], "the gateway aborted the upload in S3"
    assert stack.s3.list_objects_v2(Bucket=stack.bucket, Prefix=key).get("KeyCount", 0) == 0
