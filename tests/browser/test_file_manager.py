"""The File Manager page in Debian's Chromium against the five services (devstack, real broker, S3
and PostgreSQL): sign-in in dev mode, uploads with progress (a POST form each, and one file in parts
signed call by call), thumbnails of the right width, search, tags, rename, the download URL of a
width, delete of several files, and readable refusals (too big, wrong type, S3's own, network loss).

With ``SCREENSHOTS_DIR`` set, the main screens are saved there (docs/screenshots/ in the repo).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from devstack.photos import jpeg_bytes, png_bytes
from devstack.stack import RunningStack
from services.gateway.devtoken import mint_token
from shared.settings import DEV_JWT_SECRET
from tests.browser.conftest import PRESIGN_EXPIRES, UPLOAD_MAX, MiB

BIG = 17 * MiB  # above the page's multipart threshold (16 MiB): signed call by call
TIMEOUT = 60_000  # ms


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    where = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


OWN = "files:read:own files:write:own files:delete:own"


@pytest.fixture
async def open_manager(chromium: Any, stack: RunningStack) -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """``open(token=None)``: the File Manager in a fresh context; without a token it signs itself in
    with the dev token (dev mode), with one it starts signed in with it (as after the sign-in form)."""
    contexts: list[Any] = []
    errors: list[str] = []

    async def open_page(token: str | None = None) -> Any:
        context = await chromium.new_context(
            viewport={"width": 1280, "height": 900}, permissions=["clipboard-read", "clipboard-write"]
        )
        contexts.append(context)
        if token:
            await context.add_init_script(f"sessionStorage.setItem('fileservice.token', {json.dumps(token)})")
        page = await context.new_page()
        page.set_default_timeout(TIMEOUT)
        page.on("pageerror", lambda error: errors.append(str(error)))
        response = await page.goto(f"{stack.gateway_url}/")
        assert response is not None and response.ok
        await page.wait_for_selector("body[data-ready=true]")
        return page

    yield open_page
    for context in contexts:
        await context.close()
    assert errors == [], errors


@pytest.fixture
async def page(open_manager: Callable[..., Awaitable[Any]]) -> Any:
    return await open_manager()


def own_token(prefix: str) -> str:
    """A user who sees only the files they uploaded (the stack is shared by the module's tests)."""
    return mint_token(DEV_JWT_SECRET, subject=f"{prefix}-{uuid.uuid4().hex[:8]}", scope=OWN)


async def fetch(method: str, url: str, *, token: str | None = None, **kwargs: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(timeout=30, follow_redirects=True) as client:
        return await client.request(method, url, headers=headers, **kwargs)


def object_keys(stack: RunningStack) -> list[str]:
    listed = stack.s3.list_objects_v2(Bucket=stack.bucket)
    return [item["Key"] for item in listed.get("Contents", [])]


def as_file(name: str, mime: str, content: bytes) -> dict[str, Any]:
    return {"name": name, "mimeType": mime, "buffer": content}


async def rows(page: Any) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = await page.eval_on_selector_all(
        ".upload",
        """items => items.map(li => ({name: li.querySelector('.name').textContent, state: li.dataset.state,
             text: li.querySelector('.state').textContent, value: li.querySelector('progress').value,
             max: li.querySelector('progress').max}))""",
    )
    return result


async def wait_uploads(page: Any, count: int) -> list[dict[str, Any]]:
    await page.wait_for_function(
        "n => document.querySelectorAll('.upload').length >= n && "
        "[...document.querySelectorAll('.upload')].every(li => !['waiting', 'uploading'].includes(li.dataset.state))",
        arg=count,
        timeout=120_000,
    )
    return await rows(page)


async def captions(page: Any) -> list[str]:
    result: list[str] = await page.eval_on_selector_all(".card .caption", "els => els.map(e => e.textContent)")
    return result


async def test_the_file_manager(open_manager: Callable[..., Awaitable[Any]], stack: RunningStack, shots: Path) -> None:
    page = await open_manager(own_token("manager"))
    headers = (await page.request.get(f"{stack.gateway_url}/")).headers
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp and stack.download_url in csp
    assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
    limits = await page.text_content("#limits")
    assert "to 20.0 MiB" in limits, limits  # from getSettings, before any upload

    # several files at once, with a progress bar each and overall; the big one goes up in parts
    await page.evaluate(
        """() => { window.seen = []; setInterval(() => { for (const bar of document.querySelectorAll('progress'))
             if (bar.value > 0 && bar.value < bar.max) window.seen.push(bar.value); }, 20); }"""
    )
    big = bytes(range(256)) * (BIG // 256)
    await page.set_input_files(
        "#picker",
        [
            as_file("harbour.jpg", "image/jpeg", jpeg_bytes(1200, 800, seed=3)),
            as_file("garden.png", "image/png", png_bytes(640, 480, seed=4)),
            as_file("field.jpg", "image/jpeg", jpeg_bytes(900, 600, seed=5)),
            as_file("recording.bin", "application/octet-stream", big),
        ],
    )
    await page.screenshot(path=str(shots / "uploading.png"))
    done = await wait_uploads(page, 4)
    assert all(r["state"] == "done" and r["value"] == r["max"] for r in done), done
    assert await page.evaluate("() => document.getElementById('overall').value") == await page.evaluate(
        "document.getElementById('overall').max"
    )
    assert await page.evaluate("() => window.seen.length") > 0, "progress was shown between 0 and 100 %"
    assert sorted(await captions(page)) == ["field.jpg", "garden.png", "harbour.jpg", "recording.bin"]
    big_key = next(k for k in object_keys(stack) if k.endswith("/recording.bin"))
    assert stack.s3.head_object(Bucket=stack.bucket, Key=big_key)["ContentLength"] == BIG

    # thumbnails: srcset from the allowed widths, lazy, and the variant of the width chosen
    thumb = page.locator(".card", has_text="harbour.jpg").locator("img")
    assert await thumb.get_attribute("loading") == "lazy"
    srcset = await thumb.get_attribute("srcset")
    assert [c.rsplit(" ", 1)[1] for c in srcset.split(", ")] == ["100w", "300w", "500w"]
    await page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=await thumb.element_handle(), timeout=TIMEOUT
    )
    current = await thumb.evaluate("img => img.currentSrc")
    assert current.endswith("?width=300"), current  # 180 CSS px at density 1: the 300w candidate
    shown = await fetch("GET", current)
    assert Image.open(io.BytesIO(shown.content)).width == 300, "the variant has the width it is listed with"
    await page.screenshot(path=str(shots / "gallery.png"))

    # search
    await page.fill("#search", "harb")
    await page.wait_for_function("() => document.querySelectorAll('.card').length === 1")
    assert await captions(page) == ["harbour.jpg"]

    # details: dimensions, tags, rename, the URL of a width
    await page.click(".card .open")
    await page.wait_for_selector("#details:not([hidden])")
    await page.wait_for_function("() => document.getElementById('d-dimensions').textContent.includes('\u00d7')")
    assert await page.text_content("#d-dimensions") == "1200 \u00d7 800 px"
    await page.fill("#d-tags", "Holiday, beach")
    await page.click("#tags-form button")
    await page.wait_for_function("() => document.getElementById('status').textContent === 'Tags saved.'")
    await page.fill("#d-name", "harbour at dusk.jpg")
    await page.click("#rename-form button")
    await page.wait_for_function("() => document.getElementById('status').textContent === 'Renamed.'")
    assert await captions(page) == ["harbour at dusk.jpg"]
    await page.select_option("#d-width", "500")
    await page.click("#url-form button")
    await page.wait_for_function("() => document.getElementById('status').textContent.startsWith('Copied')")
    copied = await page.evaluate("() => navigator.clipboard.readText()")
    assert copied.startswith(stack.download_url) and copied.endswith("?width=500"), copied
    variant = await fetch("GET", copied)
    assert variant.status_code == 200 and Image.open(io.BytesIO(variant.content)).width == 500
    await page.screenshot(path=str(shots / "details.png"))

    # the tag filter
    await page.fill("#search", "")
    await page.wait_for_function("() => document.querySelectorAll('.card').length === 4")
    await page.wait_for_selector("#tag-filter option[value=holiday]", state="attached")
    await page.select_option("#tag-filter", "holiday")
    await page.wait_for_function("() => document.querySelectorAll('.card').length === 1")
    assert await captions(page) == ["harbour at dusk.jpg"]
    await page.select_option("#tag-filter", "")
    await page.select_option("#type-filter", "image/*")
    await page.wait_for_function("() => document.querySelectorAll('.card').length === 3")
    await page.select_option("#type-filter", "")
    await page.wait_for_function("() => document.querySelectorAll('.card').length === 4")

    # delete several at once, after a confirmation
    for name in ("garden.png", "recording.bin"):
        await page.locator(".card", has_text=name).locator("input[type=checkbox]").check()
    await page.click("#delete-selected")
    await page.wait_for_selector("#confirm[open]")
    await page.screenshot(path=str(shots / "confirm-delete.png"))
    await page.click("#confirm-ok")
    await page.wait_for_function("() => document.querySelectorAll('.card').length === 2")
    assert sorted(await captions(page)) == ["field.jpg", "harbour at dusk.jpg"]
    remaining = object_keys(stack)
    assert not any(k.endswith(("/garden.png", "/recording.bin")) for k in remaining), remaining


async def test_refusals_are_readable(page: Any, stack: RunningStack, shots: Path) -> None:
    assert "dev user" in (await page.text_content("#who") or ""), "dev mode: the page signed itself in"
    # too big: the page knows the limit from getSettings and refuses before asking for anything
    await page.set_input_files("#picker", [as_file("huge.bin", "application/octet-stream", bytes(UPLOAD_MAX + 1))])
    (refused,) = await wait_uploads(page, 1)
    assert refused["state"] == "failed" and refused["text"] == (
        "Too big: huge.bin is 20,971,521 bytes; at most 20,971,520 bytes may be uploaded."
    ), refused

    # network loss on the way to S3
    s3_origin = stack.s3.meta.endpoint_url.rstrip("/")
    await page.route(f"{s3_origin}/**", lambda route: route.abort("internetdisconnected"))
    await page.set_input_files("#picker", [as_file("lost.jpg", "image/jpeg", jpeg_bytes(300, 200))])
    lost = (await wait_uploads(page, 2))[0]
    assert lost["state"] == "failed" and "Network lost" in lost["text"], lost
    await page.unroute(f"{s3_origin}/**")

    # S3's own refusal: the signed form expired before it was sent (held past PRESIGN_EXPIRES)
    async def late(route: Any) -> None:
        await page.wait_for_timeout((PRESIGN_EXPIRES + 3) * 1000)
        await route.continue_()

    await page.route(f"{s3_origin}/**", late)
    await page.set_input_files("#picker", [as_file("late.jpg", "image/jpeg", jpeg_bytes(300, 200))])
    expired = (await wait_uploads(page, 3))[0]
    assert expired["state"] == "failed" and expired["text"].startswith("Storage refused the upload"), expired
    await page.unroute(f"{s3_origin}/**")
    await page.screenshot(path=str(shots / "refusals.png"))

    # wrong type, once an administrator allows only images
    admin = mint_token(DEV_JWT_SECRET, scope="files:settings")
    update = 'mutation { fileManager { updateSettings(data: {allowedTypes: ["image/*"]}) { error { code } } } }'
    answer = await fetch("POST", f"{stack.gateway_url}/graphql", json={"query": update}, token=admin)
    assert answer.json()["data"]["fileManager"]["updateSettings"]["error"] is None
    await page.reload()
    await page.wait_for_selector("body[data-ready=true]")
    assert "types: image/*" in await page.text_content("#limits")
    await page.set_input_files("#picker", [as_file("notes.txt", "text/plain", b"hello")])
    (wrong,) = await wait_uploads(page, 1)
    assert wrong["state"] == "failed" and wrong["text"].startswith("Wrong type: text/plain"), wrong
    restore = 'mutation { fileManager { updateSettings(data: {allowedTypes: ["*/*"]}) { error { code } } } }'
    await fetch("POST", f"{stack.gateway_url}/graphql", json={"query": restore}, token=admin)


async def test_sign_in_with_a_token_when_refused(page: Any, stack: RunningStack) -> None:
    await page.evaluate("() => sessionStorage.setItem('fileservice.token', 'not-a-token')")
    await page.reload()
    await page.wait_for_selector("#sign-in:not([hidden])")
    assert "refused" in (await page.text_content("#alert") or "")
    await page.fill("#token", mint_token(DEV_JWT_SECRET, scope="files:read"))
    await page.click("#sign-in-form button")
    await page.wait_for_selector("#app:not([hidden])")
    assert await page.evaluate("() => sessionStorage.getItem('fileservice.token')") != "not-a-token"


async def test_cancel_aborts_a_multipart_upload(
    open_manager: Callable[..., Awaitable[Any]], stack: RunningStack
) -> None:
    page = await open_manager(own_token("canceller"))
    s3_origin = stack.s3.meta.endpoint_url.rstrip("/")

    async def slow_parts(route: Any) -> None:
        if route.request.method == "PUT":
            await asyncio.sleep(2)
        await route.continue_()

    await page.route(f"{s3_origin}/**", slow_parts)
    async with page.expect_request(lambda r: r.method == "PUT" and "partNumber=1" in r.url):
        await page.set_input_files("#picker", [as_file("cancel-me.bin", "application/octet-stream", bytes(BIG))])
    await page.click("button[aria-label='Cancel cancel-me.bin']")
    (row,) = await wait_uploads(page, 1)
    assert row["state"] == "cancelled" and row["text"] == "Cancelled", row

    def unfinished() -> list[str]:
        listed = stack.s3.list_multipart_uploads(Bucket=stack.bucket)
        return [u["Key"] for u in listed.get("Uploads", []) if u["Key"].endswith("/cancel-me.bin")]

    for _ in range(50):
        if not unfinished():
            break
        await asyncio.sleep(0.2)
    assert unfinished() == [], "the gateway aborted the upload"
    assert not any(k.endswith("/cancel-me.bin") for k in object_keys(stack))
    assert await captions(page) == []


async def test_infinite_scroll_newest_first(open_manager: Callable[..., Awaitable[Any]], stack: RunningStack) -> None:
    token = own_token("scroller")
    presign = """query ($d: PreSignedPostPayloadInput!) { fileManager { getPreSignedPostPayload(data: $d) {
      data { data file { key } } error { code } } } }"""
    create = "mutation ($d: FileInput!) { fileManager { createFile(data: $d) { error { code } } } }"
    auth = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=30) as client:
        for n in range(45):
            body = f"note {n}".encode()
            answer = await client.post(
                f"{stack.gateway_url}/graphql",
                headers=auth,
                json={
                    "query": presign,
                    "variables": {"d": {"name": f"note-{n:02}.txt", "type": "text/plain", "size": len(body)}},
                },
            )
            payload = answer.json()["data"]["fileManager"]["getPreSignedPostPayload"]["data"]
            form = payload["data"]
            sent = await client.post(form["url"], data=form["fields"], files={"file": ("f", body, "text/plain")})
            assert sent.status_code == 204, sent.text
            made = await client.post(
                f"{stack.gateway_url}/graphql",
                headers=auth,
                json={"query": create, "variables": {"d": {"key": payload["file"]["key"], "name": f"note-{n:02}.txt"}}},
            )
            assert made.json()["data"]["fileManager"]["createFile"]["error"] is None
    page = await open_manager(token)
    await page.wait_for_function("() => document.querySelectorAll('.card').length >= 40")
    first = await captions(page)
    assert first[:3] == ["note-44.txt", "note-43.txt", "note-42.txt"], "newest first"
    await page.locator("#more").scroll_into_view_if_needed()
    await page.wait_for_function("() => document.querySelectorAll('.card').length === 45")
    assert (await captions(page))[-1] == "note-00.txt"
    assert await page.text_content("#count") == "45 files"
