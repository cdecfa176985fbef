"""compose.yaml really runs: the image builds (cached), a private stack (its own project name and
free ports) comes up healthy, and the README's walkthrough passes against it: upload through a
pre-signed POST, download, ?width=, delete, and the variants cleaned up."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import httpx
import pytest
from PIL import Image

from devstack.containers import ComposeStack
from devstack.photos import jpeg_bytes
from devstack.seaweed import s3_client
from services.gateway.devtoken import mint_token

pytestmark = pytest.mark.timeout(900)

PAYLOAD = """query($d: PreSignedPostPayloadInput!) { fileManager { getPreSignedPostPayload(data: $d) {
  data { data file { id key name size type } } error { code message } } } }"""
CREATE = """mutation($d: FileInput!) { fileManager { createFile(data: $d) {
  data { id key size type tags src } error { code message } } } }"""
DELETE = """mutation($id: ID!) { fileManager { deleteFile(id: $id) { data error { code } } } }"""
SERVICES = ("gateway", "download", "resize", "cleanup", "bridge")


@pytest.fixture
def stack(compose_stack: ComposeStack) -> ComposeStack:
    return compose_stack


def gql(stack: ComposeStack, query: str, variables: dict[str, Any]) -> Any:
    resp = httpx.post(
        f"{stack.gateway_url}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {mint_token('dev-secret')}"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]["fileManager"]


def containers(stack: ComposeStack) -> dict[str, dict[str, Any]]:
    """service -> `inspect` of its container."""
    ids = stack.compose("ps", "-q").stdout.split()
    inspected = json.loads(stack.engine.run("inspect", *ids).stdout)
    return {c["Config"]["Labels"]["com.docker.compose.service"]: c for c in inspected}


def test_every_service_is_up_and_healthy(stack: ComposeStack) -> None:
    found = containers(stack)
    assert {"rabbitmq", "seaweedfs", "postgres", *SERVICES} <= found.keys()
    for name, container in found.items():
        state = container["State"]
        assert state["Running"], f"{name}: {state.get('Status')}"
        health = state.get("Health") or state.get("Healthcheck") or {}
        assert health.get("Status") == "healthy", f"{name}: {health}"


def test_our_services_run_unprivileged_on_a_read_only_root(stack: ComposeStack) -> None:
    for name, container in containers(stack).items():
        if name not in SERVICES:
            continue
        assert container["HostConfig"]["ReadonlyRootfs"] is True, name
        uid = stack.engine.run("exec", container["Id"], "id", "-u").stdout.strip()
        assert uid == "10001", f"{name} runs as {uid}"
        denied = stack.engine.run("exec", container["Id"], "touch", "/app/x", check=False)
        assert denied.returncode != 0, f"{name} could write to its root"


def test_the_readme_walkthrough(stack: ComposeStack) -> None:
    photo = jpeg_bytes(1600, 1200, seed=12)
    # A. pre-signed POST straight to S3 (the public endpoint on this stack's port), then createFile
    presigned = gql(stack, PAYLOAD, {"d": {"name": "photo.jpg", "type": "image/jpeg", "size": len(photo)}})
    presigned = presigned["getPreSignedPostPayload"]
    assert presigned["error"] is None, presigned
    form, file = presigned["data"]["data"], presigned["data"]["file"]
    assert form["url"].startswith(stack.s3_endpoint_url)
    posted = httpx.post(form["url"], data=form["fields"], files={"file": ("photo.jpg", photo)}, timeout=30)
    assert posted.status_code == 204, posted.text
    created = gql(stack, CREATE, {"d": {"key": file["key"], "name": file["key"], "tags": ["holiday", "beach"]}})
    assert created["createFile"]["error"] is None and created["createFile"]["data"]["size"] == len(photo)
    assert created["createFile"]["data"]["src"].startswith(stack.download_url)

    # B. download it
    got = httpx.get(f"{stack.download_url}/files/{file['key']}", timeout=60)
    assert got.status_code == 200 and got.content == photo and got.headers["content-type"] == "image/jpeg"

    # C. a 282-px request gets the 300-px variant, made by the resize container
    small = httpx.get(f"{stack.download_url}/files/{file['key']}", params={"width": 282}, timeout=120)
    assert small.status_code == 200, small.text
    assert Image.open(io.BytesIO(small.content)).size == (300, 225)
    s3 = s3_client(stack.s3_endpoint_url)
    variants = s3.list_objects_v2(Bucket="files", Prefix=f"variants/{file['id']}/").get("KeyCount", 0)
    assert variants == 1

    # D. delete: the original goes, and the cleanup container removes the variant (the event comes
    # from SeaweedFS's filer webhook to the bridge container, then through RabbitMQ)
    deleted = gql(stack, DELETE, {"id": file["id"]})
    assert deleted["deleteFile"] == {"data": True, "error": None}
    deadline = time.monotonic() + 60
    left: list[str] = ["?"]
    while time.monotonic() < deadline:
        left = [
            o["Key"]
            for prefix in (f"{file['id']}/", f"variants/{file['id']}/")
            for o in s3.list_objects_v2(Bucket="files", Prefix=prefix).get("Contents", [])
        ]
        if not left:
            break
        time.sleep(0.5)
    assert left == [], f"left after delete: {left}\n{stack.logs()}"
    assert httpx.get(f"{stack.download_url}/files/{file['key']}", timeout=30).status_code == 404
