"""CORS as a real browser enforces it. A page served from one loopback origin calls the gateway on
another with ``fetch(..., {credentials: "include"})``, a bearer token and the headers of Webiny's
admin app (5.39 and later), after setting a cookie that the browser then sends along; the page
reads a file from the download service as Webiny's image editor does (an XHR without credentials).

What the page's script got (or the error the browser gave it instead) is the answer.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from services.gateway.devtoken import mint_token
from shared.keys import new_file_id
from shared.s3 import ObjectStore
from tests.integration.test_download import Start as StartDownload
from tests.integration.test_download import start_download
from tests.support.gateway import SETTINGS, Start, start_gateway

__all__ = ["start_download", "start_gateway"]  # the fixtures

ServePage = Callable[[str], Awaitable[str]]
OpenPage = Callable[[str], Awaitable[Any]]

PAGE = """<!doctype html>
<meta charset="utf-8">
<title>File Manager</title>
<script>
// As Webiny's admin app calls its API: a batch, with credentials, a bearer token and its headers.
async function callGateway(url, token, credentials, query) {
  document.cookie = "wby-id-token=" + token + "; path=/";
  try {
    const response = await fetch(url, {
      method: "POST",
      credentials,
      headers: {
        "content-type": "application/json",
        authorization: "Bearer " + token,
        "x-tenant": "root",
        "x-i18n-locale": "content:en-US;",
      },
      body: JSON.stringify([{operationName: "GetSettings", query, variables: {}}]),
    });
    return {
      status: response.status,
      body: await response.json(),
      correlationId: response.headers.get("x-correlation-id"),
    };
  } catch (error) {
    return {error: String(error)};
  }
}

// As Webiny's image editor loads a file (toDataUrl): an XHR for a blob.
function readFile(url, withCredentials) {
  return new Promise(resolve => {
    const xhr = new XMLHttpRequest();
    xhr.onload = () => resolve({status: xhr.status, size: xhr.response.size, type: xhr.response.type});
    xhr.onerror = () => resolve({error: "network error (CORS)"});
    xhr.open("GET", url);
    xhr.responseType = "blob";
    xhr.withCredentials = withCredentials;
    xhr.send();
  });
}
</script>
<p>File Manager</p>
"""


async def _call_gateway(page: Any, url: str, token: str, credentials: str = "include") -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate(
        "([url, token, credentials, query]) => callGateway(url, token, credentials, query)",
        [f"{url}/graphql", token, credentials, SETTINGS],
    )
    return result


async def _read_file(page: Any, url: str, *, with_credentials: bool) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate("([url, wc]) => readFile(url, wc)", [url, with_credentials])
    return result


async def test_the_admin_app_reaches_the_gateway_with_credentials_from_a_listed_origin(
    start_gateway: Start, serve_page: ServePage, browser_page: OpenPage
) -> None:
    admin = await serve_page(PAGE)
    other = await serve_page(PAGE)  # another loopback origin, not listed
    gateway = await start_gateway(cors_allow_origins=admin)
    token = mint_token(gateway.settings.jwt_secret.get_secret_value(), scope="files:*")
    base_url = str(gateway.http.base_url).rstrip("/")

    result = await _call_gateway(await browser_page(admin), base_url, token)
    assert "error" not in result, result
    assert result["status"] == 200
    settings = result["body"][0]["data"]["fileManager"]["getSettings"]
    assert settings["error"] is None and settings["data"]["uploadMaxFileSize"] > 0
    assert result["correlationId"]  # an exposed header

    blocked = await _call_gateway(await browser_page(other), base_url, token)
    assert blocked == {"error": "TypeError: Failed to fetch"}, json.dumps(blocked)[:300]


async def test_a_wildcard_gateway_never_answers_a_credentialed_request(
    start_gateway: Start, serve_page: ServePage, browser_page: OpenPage
) -> None:
    page = await browser_page(await serve_page(PAGE))
    gateway = await start_gateway(cors_allow_origins="*")
    token = mint_token(gateway.settings.jwt_secret.get_secret_value(), scope="files:*")
    base_url = str(gateway.http.base_url).rstrip("/")

    blocked = await _call_gateway(page, base_url, token, credentials="include")
    assert blocked == {"error": "TypeError: Failed to fetch"}, json.dumps(blocked)[:300]

    anonymous = await _call_gateway(page, base_url, token, credentials="omit")
    assert anonymous.get("status") == 200, anonymous
    assert anonymous["body"][0]["data"]["fileManager"]["getSettings"]["error"] is None


async def test_scripts_read_files_without_credentials_only(
    start_download: StartDownload, store: ObjectStore, serve_page: ServePage, browser_page: OpenPage
) -> None:
    listed = await serve_page(PAGE)
    other = await serve_page(PAGE)
    key = f"{new_file_id()}/photo.png"
    body = b"\x89PNG\r\n\x1a\n" + bytes(1000)
    await store.put_bytes(key, body, content_type="image/png")
    anyone = await start_download()  # DOWNLOAD_CORS_ALLOW_ORIGINS=*
    only_listed = await start_download(download_cors_allow_origins=listed)

    page = await browser_page(other)
    url = f"{str(anyone.base_url).rstrip('/')}/files/{key}"
    assert await _read_file(page, url, with_credentials=False) == {
        "status": 200,
        "size": len(body),
        "type": "image/png",
    }
    assert await _read_file(page, url, with_credentials=True) == {"error": "network error (CORS)"}

    url = f"{str(only_listed.base_url).rstrip('/')}/files/{key}"
    assert (await _read_file(await browser_page(listed), url, with_credentials=False))["status"] == 200
    assert await _read_file(page, url, with_credentials=False) == {"error": "network error (CORS)"}
    assert await _read_file(await browser_page(listed), url, with_credentials=True) == {"error": "network error (CORS)"}
