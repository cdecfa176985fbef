"""The File Manager page as the gateway serves it: the page and its files with their security
headers, what the page is told (config.json), and the dev token only in dev mode."""

from __future__ import annotations

import jwt

from services.gateway.web import WEB_DIR
from tests.support.gateway import Start, start_gateway

__all__ = ["start_gateway"]


async def test_the_page_and_its_files(start_gateway: Start) -> None:
    gateway = await start_gateway(download_base_url="http://127.0.0.1:18001", image_widths="100,300,500,750")
    page = await gateway.http.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/app/main.js">' in page.text
    csp = dict(part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";"))
    assert csp["default-src"] == "'none'" and csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
    assert "http://127.0.0.1:18001" in csp["img-src"].split()
    s3_origin = gateway.settings.s3_endpoint_url
    assert s3_origin is not None
    assert s3_origin.rstrip("/") in csp["connect-src"].split(), "uploads go straight to S3"
    assert csp["frame-ancestors"] == "'none'" and csp["form-action"] == "'none'"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY" and page.headers["referrer-policy"] == "no-referrer"

    for name in ("main.js", "api.js", "upload.js"):
        script = await gateway.http.get(f"/app/{name}")
        assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
        assert script.text == (WEB_DIR / name).read_text()
    assert (await gateway.http.get("/app/style.css")).headers["content-type"].startswith("text/css")
    assert (await gateway.http.get("/app/nothing.js")).status_code == 404
    assert (await gateway.http.get("/app/..%2Fapp.py")).status_code == 404

    config = (await gateway.http.get("/app/config.json")).json()
    assert config == {"graphql": "/graphql", "devMode": True, "widths": [100, 300, 500, 750],
                      "multipartThreshold": 16 * 1024**2}  # fmt: skip

    minted = (await gateway.http.get("/app/dev-token")).json()["token"]
    claims = jwt.decode(minted, gateway.settings.jwt_secret.get_secret_value(), algorithms=["HS256"])
    assert claims["scope"] == "files:*" and claims["sub"] == "dev"


async def test_no_dev_token_outside_dev_mode(start_gateway: Start) -> None:
    gateway = await start_gateway(dev_mode=False, jwt_secret="a-production-secret-of-at-least-32-bytes!")
    assert (await gateway.http.get("/app/dev-token")).status_code == 404
    assert (await gateway.http.get("/app/config.json")).json()["devMode"] is False
    assert (await gateway.http.get("/")).status_code == 200
