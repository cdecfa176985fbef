"""The GraphQL gateway over real HTTP against a real SeaweedFS bucket, a real PostgreSQL catalog
(an empty database per test) and a real broker vhost.

Each test runs the app under uvicorn on a free loopback port and talks to it as Webiny's admin
app does (``__typename``, undeclared variables); uploads go straight to S3 with the pre-signed
POST, so S3 itself enforces the policy.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from devstack.database import Database
from devstack.ports import free_port
from services.gateway.catalog.migrate import load_migrations
from services.gateway.devtoken import mint_token
from shared.keys import new_file_id, original_key, parse_original_key, variant_key
from shared.s3 import ObjectStore
from tests.support.gateway import (
    ALL,
    CREATE,
    DELETE,
    GET,
    LIST,
    PRESIGN,
    PRESIGN_MANY,
    SETTINGS,
    Start,
    start_gateway,
    upload,
)

__all__ = ["start_gateway"]  # the fixture

# --- flow A: upload, then the record ------------------------------------------------------------


async def test_upload_create_get_list_delete(start_gateway: Start, store: ObjectStore) -> None:
    gateway = await start_gateway()
    content = b"\xff\xd8\xff" + b"x" * 2000
    result = await gateway.presign("My photo.jpg", "image/jpeg", len(content))
    assert result["error"] is None
    info = result["data"]["file"]
    key = info["key"]
    assert key == f"{info['id']}/My photo.jpg"
    assert info["name"] == key and info["size"] == len(content) and info["type"] == "image/jpeg"
    assert result["data"]["data"]["fields"]["key"] == key

    pending = await gateway.gql(GET, {"id": info["id"]})
    assert pending["getFile"]["error"]["code"] == "NOT_FOUND", "a payload alone is no file"

    response = await upload(result, content)
    assert response.status_code == 204, response.text
    stored = await store.head(key)
    assert stored is not None and stored.size == len(content) and stored.content_type == "image/jpeg"

    created = await gateway.gql(
        CREATE, {"data": {"key": key, "name": key, "size": len(content), "type": "image/jpeg", "tags": ["Trip"]}}
    )
    record = created["createFile"]["data"]
    assert created["createFile"]["error"] is None
    assert record["id"] == info["id"] and record["key"] == key and record["name"] == "My photo.jpg"
    assert record["size"] == len(content) and record["type"] == "image/jpeg"
    assert record["src"] == f"{gateway.settings.download_base_url}/files/{info['id']}/My%20photo.jpg"
    assert record["tags"] == ["trip"] and record["meta"] == {} and record["createdOn"].endswith("Z")
    assert record["createdBy"] == {"id": "dev", "displayName": None, "__typename": "CreatedBy"}

    fetched = await gateway.gql(GET, {"id": info["id"]})
    assert fetched["getFile"]["data"] == record

    listed = await gateway.gql(LIST, {"limit": 40, "where": {"tag_not_startsWith": "scope:"}})
    assert [f["key"] for f in listed["listFiles"]["data"]] == [key]

    deleted = await gateway.gql(DELETE, {"id": info["id"]})
    assert deleted["deleteFile"] == {"data": True, "error": None}
    assert await store.head(key) is None
    gone = await gateway.gql(GET, {"id": info["id"]})
    assert gone["getFile"]["data"] is None and gone["getFile"]["error"]["code"] == "NOT_FOUND"
    again = await gateway.gql(DELETE, {"id": info["id"]})
    assert again["deleteFile"]["error"]["code"] == "NOT_FOUND"
    listed = await gateway.gql(LIST, {})
    assert listed["listFiles"]["data"] == [] and listed["listFiles"]["meta"]["totalCount"] == 0


async def test_create_file_takes_size_and_type_from_s3_and_keeps_a_given_name(
    start_gateway: Start, store: ObjectStore
) -> None:
    gateway = await start_gateway()
    result = await gateway.presign("scan.pdf", "application/pdf", 100)
    await upload(result, b"%PDF-1.4 tiny")
    key = result["data"]["file"]["key"]
    created = await gateway.gql(
        CREATE, {"data": {"key": key, "name": "Quarterly report.pdf", "size": 999, "type": "image/png",
                          "meta": {"private": True}}}
    )  # fmt: skip
    record = created["createFile"]["data"]
    assert (record["name"], record["size"], record["type"]) == ("Quarterly report.pdf", 13, "application/pdf")
    assert record["meta"] == {"private": True}


async def test_delete_removes_only_the_original(start_gateway: Start, store: ObjectStore) -> None:
    gateway = await start_gateway()
    record = await gateway.upload_file("a.png", b"png", "image/png")
    variant = str(variant_key(parse_original_key(record["key"]), 100, "png"))
    await store.put_bytes(variant, b"v", content_type="image/png")
    deleted = await gateway.gql(DELETE, {"id": record["id"]})
    assert deleted["deleteFile"]["data"] is True
    assert await store.head(record["key"]) is None
    assert await store.head(variant) is not None, "cleanup's job, not ours"


async def test_s3_refuses_a_file_bigger_than_declared(start_gateway: Start, store: ObjectStore) -> None:
    gateway = await start_gateway()
    result = await gateway.presign("small.txt", "text/plain", 10)
    response = await upload(result, b"x" * 11)
    assert response.status_code >= 400
    assert await store.head(result["data"]["file"]["key"]) is None
    created = await gateway.gql(CREATE, {"data": {"key": result["data"]["file"]["key"]}})
    assert created["createFile"]["error"]["code"] == "NOT_FOUND"


async def test_s3_refuses_another_content_type(start_gateway: Start, store: ObjectStore) -> None:
    gateway = await start_gateway()
    result = await gateway.presign("a.png", "image/png", 100)
    response = await upload(result, b"<html>", **{"Content-Type": "text/html"})
    assert response.status_code >= 400
    assert await store.head(result["data"]["file"]["key"]) is None


async def test_s3_refuses_another_key(start_gateway: Start, store: ObjectStore) -> None:
    gateway = await start_gateway()
    result = await gateway.presign("a.png", "image/png", 100)
    other = f"{new_file_id()}/evil.png"
    response = await upload(result, b"png", key=other)
    assert response.status_code >= 400
    assert await store.head(other) is None


async def test_s3_refuses_an_expired_policy(start_gateway: Start, store: ObjectStore) -> None:
    gateway = await start_gateway(presign_expires=1)
    result = await gateway.presign("late.txt", "text/plain", 10)
    await asyncio.sleep(2.5)
    response = await upload(result, b"hello")
    assert response.status_code >= 400
    assert await store.head(result["data"]["file"]["key"]) is None


async def test_sizes_beyond_32_bits_and_the_settings(start_gateway: Start) -> None:
    gateway = await start_gateway(upload_max_size=10 * 1024**3)
    result = await gateway.presign("big.mp4", "video/mp4", 5 * 1024**3)
    assert result["error"] is None and result["data"]["file"]["size"] == 5 * 1024**3
    settings = await gateway.gql(SETTINGS)
    assert settings["getSettings"]["data"] == {
        "uploadMinFileSize": 1,
        "uploadMaxFileSize": 10 * 1024**3,
        "srcPrefix": f"{gateway.settings.download_base_url}/files/",
        "allowedTypes": ["*/*"],
        "__typename": "Settings",
    }


async def test_validation_errors(start_gateway: Start) -> None:
    gateway = await start_gateway(upload_max_size=1000, allowed_types="image/*")
    too_big = await gateway.presign("a.png", "image/png", 1001)
    assert too_big["data"] is None
    assert too_big["error"]["code"] == "VALIDATION_FAILED"
    assert too_big["error"]["data"]["invalidFields"]["size"]["code"] == "TOO_LARGE"
    wrong_type = await gateway.presign("a.pdf", "application/pdf", 10)
    assert wrong_type["error"]["data"]["invalidFields"]["type"]["code"] == "NOT_ALLOWED"
    fraction = await gateway.post({"query": PRESIGN, "variables": {"data": {"name": "a", "type": "a/b", "size": 1.5}}})
    assert fraction.status_code == 400 and "whole number" in fraction.json()["errors"][0]["message"]


async def test_batched_presign(start_gateway: Start) -> None:
    gateway = await start_gateway()
    item = {"name": "a.png", "type": "image/png", "size": 10}
    two = await gateway.gql(PRESIGN_MANY, {"data": [item, {**item, "name": "b.png"}]})
    files = [entry["file"] for entry in two["getPreSignedPostPayloads"]["data"]]
    assert [f["key"].split("/", 1)[1] for f in files] == ["a.png", "b.png"]
    assert files[0]["id"] != files[1]["id"]
    twenty = await gateway.gql(PRESIGN_MANY, {"data": [item] * 20})
    assert len(twenty["getPreSignedPostPayloads"]["data"]) == 20
    too_many = await gateway.gql(PRESIGN_MANY, {"data": [item] * 21})
    assert too_many["getPreSignedPostPayloads"]["error"]["code"] == "LIMIT_EXCEEDED"
    assert too_many["getPreSignedPostPayloads"]["error"]["data"] == {"max": 20, "given": 21}
    empty = await gateway.gql(PRESIGN_MANY, {"data": []})
    assert empty["getPreSignedPostPayloads"]["error"]["code"] == "VALIDATION_FAILED"
    one_bad = await gateway.gql(PRESIGN_MANY, {"data": [item, {**item, "size": 0}]})
    error = one_bad["getPreSignedPostPayloads"]["error"]
    assert error["code"] == "VALIDATION_FAILED" and error["data"]["items"][0]["index"] == 1
    listed = await gateway.gql(LIST, {})
    assert listed["listFiles"]["meta"]["totalCount"] == 0, "pending records are not files yet"


# --- records and listing --------------------------------------------------------------------------


async def test_not_found_and_bad_keys(start_gateway: Start) -> None:
    gateway = await start_gateway()
    for file_id in (new_file_id(), "not-an-id", "../etc"):
        got = await gateway.gql(GET, {"id": file_id})
        assert got["getFile"]["error"]["code"] == "NOT_FOUND"
        deleted = await gateway.gql(DELETE, {"id": file_id})
        assert deleted["deleteFile"]["data"] is None
        assert deleted["deleteFile"]["error"]["code"] == "NOT_FOUND"
    missing = await gateway.gql(CREATE, {"data": {"key": f"{new_file_id()}/never.png"}})
    assert missing["createFile"]["error"]["code"] == "NOT_FOUND"
    variant = await gateway.gql(
        CREATE, {"data": {"key": str(variant_key(original_key(new_file_id(), "a.png"), 100, "png"))}}
    )
    assert variant["createFile"]["error"]["code"] == "VALIDATION_FAILED"
    no_key = await gateway.gql(CREATE, {"data": {"name": "a.png"}})
    assert no_key["createFile"]["error"]["data"]["invalidFields"]["key"]["code"] == "REQUIRED"


async def test_list_pages_newest_first_with_every_filter(start_gateway: Start) -> None:
    gateway = await start_gateway()
    cat = await gateway.upload_file("cat.png", b"png1", "image/png", tags=["Animals", "cute"])
    dog = await gateway.upload_file("dog.jpg", b"jpg1", "image/jpeg", tags=["animals", "scope:private"])
    report = await gateway.upload_file("Report 2026.pdf", b"%PDF", "application/pdf", tags=["work"])
    other = await gateway.upload_file("notes.txt", b"text", "text/plain", sub="someone-else")

    async def keys(**variables: object) -> list[str]:
        listed = (await gateway.gql(LIST, dict(variables)))["listFiles"]
        assert listed["error"] is None, listed
        return [f["key"] for f in listed["data"]]

    first = (await gateway.gql(LIST, {"limit": 2}))["listFiles"]
    assert [f["key"] for f in first["data"]] == [other["key"], report["key"]]
    assert first["meta"]["totalCount"] == 4 and first["meta"]["hasMoreItems"] is True
    second = (await gateway.gql(LIST, {"limit": 2, "after": first["meta"]["cursor"]}))["listFiles"]
    assert [f["key"] for f in second["data"]] == [dog["key"], cat["key"]]
    assert second["meta"] == {"cursor": None, "totalCount": 4, "hasMoreItems": False, "__typename": "ListMeta"}

    assert await keys(types=["image/*"]) == [dog["key"], cat["key"]]
    assert await keys(types=["image/png", "application/pdf"]) == [report["key"], cat["key"]]
    assert await keys(types=["image/*"], where={"type": "image/jpeg"}) == [dog["key"]]
    assert await keys(types=[], tags=[]) == [other["key"], report["key"], dog["key"], cat["key"]]
    assert await keys(search="REPORT") == [report["key"]]
    assert await keys(where={"search": "dog"}) == [dog["key"]]
    assert await keys(tags=["ANIMALS", "cute"]) == [cat["key"]]
    assert await keys(where={"tag": "animals"}) == [dog["key"], cat["key"]]
    assert await keys(where={"tag_in": ["cute", "work"]}) == [report["key"], cat["key"]]
    assert await keys(where={"tag_and_in": ["animals", "scope:private"]}) == [dog["key"]]
    assert await keys(where={"tag_startsWith": "scope:"}) == [dog["key"]]
    assert await keys(where={"tag_not_startsWith": "scope:"}) == [other["key"], report["key"], cat["key"]]
    assert await keys(where={"createdBy": "someone-else"}) == [other["key"]]
    assert await keys(ids=[cat["id"], report["id"]]) == [report["key"], cat["key"]]
    assert await keys(where={"id_in": [cat["id"]]}, ids=[cat["id"], dog["id"]]) == [cat["key"]]
    assert await keys(tags=["holiday"]) == []

    limited = (await gateway.gql(LIST, {"limit": 1000}))["listFiles"]
    assert len(limited["data"]) == 4
    for bad in ({"after": "garbage"}, {"limit": 0}, {"types": ["not a type"]}):
        refused = (await gateway.gql(LIST, bad))["listFiles"]
        assert refused["data"] is None and refused["error"]["code"] == "VALIDATION_FAILED", bad


async def test_version_is_the_catalog_schema(start_gateway: Start) -> None:
    gateway = await start_gateway()
    data = await gateway.gql("{ fileManager { version } }")
    assert data["version"] == load_migrations()[-1].version  # the newest migration, applied to its database


# --- transport: batching, limits, errors ------------------------------------------------------------


async def test_a_batch_is_answered_in_order_ignoring_undeclared_variables(start_gateway: Start) -> None:
    gateway = await start_gateway()
    batch = [
        {"operationName": "GetSettings", "variables": {"sort": ["createdOn_DESC"]}, "query": SETTINGS},
        {
            "operationName": "ListFiles",
            "variables": {"limit": 40, "sort": ["createdOn_DESC"], "scope": "x", "where": {}},
            "query": LIST,
        },
        {"query": "{ fileManager { version __typename } __typename }"},
        {"query": "{ nope }"},
    ]
    response = await gateway.post(batch)
    assert response.status_code == 200
    results = response.json()
    assert isinstance(results, list) and len(results) == 4
    assert results[0]["data"]["fileManager"]["getSettings"]["__typename"] == "SettingsResponse"
    assert results[1]["data"]["fileManager"]["listFiles"]["__typename"] == "FileListResponse"
    assert results[1]["data"]["fileManager"]["listFiles"]["meta"]["totalCount"] == 0
    assert results[2]["data"]["fileManager"]["version"]
    assert results[2]["data"]["__typename"] == "Query"
    assert "data" not in results[3] and results[3]["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_malformed_and_oversized_requests(start_gateway: Start) -> None:
    gateway = await start_gateway(max_batch_size=3, max_body_bytes=4096)
    token = {"authorization": f"Bearer {gateway.token()}", "content-type": "application/json"}
    malformed = await gateway.http.post("/graphql", content=b"{nope", headers=token)
    assert malformed.status_code == 400 and malformed.json()["error"]["code"] == "BAD_REQUEST"
    wrong_shape = await gateway.http.post("/graphql", content=b"42", headers=token)
    assert wrong_shape.status_code == 400
    too_many = await gateway.post([{"query": "{ __typename }"}] * 4)
    assert too_many.status_code == 400 and too_many.json()["error"]["code"] == "LIMIT_EXCEEDED"
    nested = await gateway.http.post("/graphql", content=b"[" * 4000, headers=token)
    assert nested.status_code == 400 and nested.json()["error"]["code"] == "BAD_REQUEST"
    huge = await gateway.post({"query": "{ __typename }", "variables": {"pad": "x" * 5000}})
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert (await gateway.http.get("/graphql")).status_code == 405
    syntax = await gateway.post({"query": "query {"})
    assert syntax.status_code == 400 and syntax.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    bad_variable = await gateway.post({"query": GET, "variables": {"id": {"not": "an id"}}})
    assert bad_variable.status_code == 400
    assert bad_variable.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_deep_wide_or_aliased_queries_are_refused_before_running(start_gateway: Start) -> None:
    gateway = await start_gateway(max_query_depth=6, max_query_fields=60, max_query_aliases=3)
    fine = await gateway.post({"query": "{ fileManager { listFiles { data { createdBy { id } } } } }"})
    assert fine.status_code == 200 and "errors" not in fine.json()

    deep = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }"  # 8 levels
    aliases = " ".join(f"l{i}: listFiles(limit: 100) {{ data {{ id }} }}" for i in range(4))
    fragments = (
        "query Q { fileManager { ...A } } fragment A on FmQuery { a1: getSettings { ...B } a2: getSettings { ...B } }"
        " fragment B on SettingsResponse { " + " ".join(f"f{i}: __typename" for i in range(40)) + " }"
    )
    for query, limit in (
        (deep, "depth"),
        ("{ fileManager { " + aliases + " } }", "aliases"),
        (fragments, "fields"),
    ):
        refused = await gateway.post({"query": query})
        assert refused.status_code == 400, refused.text
        error = refused.json()["errors"][0]
        assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX" and error["extensions"]["limit"] == limit
    many_tokens = await gateway.post({"query": "{ " + "__typename " * 6000 + "}"})
    assert many_tokens.status_code == 400
    assert many_tokens.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    batch = await gateway.post([{"query": deep}, {"query": "{ fileManager { version } }"}])
    first, second = batch.json()
    assert batch.status_code == 200 and "data" not in first and second["data"]["fileManager"]["version"]


async def test_introspection_fits_the_default_limits(start_gateway: Start) -> None:
    from graphql import get_introspection_query

    gateway = await start_gateway()
    response = await gateway.post({"query": get_introspection_query()})
    assert response.status_code == 200 and response.json()["data"]["__schema"]["queryType"]["name"] == "Query"


# --- auth -------------------------------------------------------------------------------------------


async def test_missing_bad_or_expired_tokens_are_401(start_gateway: Start) -> None:
    gateway = await start_gateway()
    body = {"query": "{ fileManager { version } }"}
    missing = await gateway.post(body, scope=None)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "UNAUTHORIZED"
    assert missing.headers["www-authenticate"].startswith("Bearer")
    forged = mint_token("some-other-secret-of-enough-length-000", scope=ALL)
    for header in (
        f"Bearer {forged}",
        "Bearer not.a.jwt",
        f"Bearer {gateway.token(ttl=timedelta(seconds=-120))}",
    ):
        refused = await gateway.post(body, scope=None, authorization=header)
        assert refused.status_code == 401, header
        assert refused.json()["error"]["code"] == "UNAUTHORIZED"
        assert 'error="invalid_token"' in refused.headers["www-authenticate"]


async def test_scopes_are_enforced_per_operation(start_gateway: Start, store: ObjectStore) -> None:
    gateway = await start_gateway()
    read_only = await gateway.presign("a.png", "image/png", 10, scope="files:read")
    assert read_only["data"] is None and read_only["error"]["code"] == "FORBIDDEN"
    record = await gateway.upload_file("keep.png", b"png", "image/png")
    refused = await gateway.gql(DELETE, {"id": record["id"]}, scope="files:read files:write")
    assert refused["deleteFile"]["error"]["code"] == "FORBIDDEN"
    assert await store.head(record["key"]) is not None
    no_read = await gateway.gql(GET, {"id": record["id"]}, scope="files:write")
    assert no_read["getFile"]["error"]["code"] == "FORBIDDEN"
    allowed = await gateway.gql(GET, {"id": record["id"]}, scope="files:read")
    assert allowed["getFile"]["data"]["name"] == "keep.png"
    no_create = await gateway.gql(CREATE, {"data": {"key": record["key"]}}, scope="files:read")
    assert no_create["createFile"]["error"]["code"] == "FORBIDDEN"
    tags = await gateway.post({"query": "{ fileManager { listTags } }"}, scope="files:write")
    assert tags.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    nothing = await gateway.gql(SETTINGS, scope="profile:read")
    assert nothing["getSettings"]["error"]["code"] == "FORBIDDEN"
    uploader = await gateway.gql(SETTINGS, scope="files:write:own")
    assert uploader["getSettings"]["data"]["uploadMaxFileSize"] == gateway.settings.upload_max_size


# --- operations ---------------------------------------------------------------------------------------


async def test_health_metrics_and_correlation_id(start_gateway: Start) -> None:
    gateway = await start_gateway()
    assert (await gateway.http.get("/healthz")).status_code == 200
    ready = await gateway.http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"s3": "ok", "catalog": "ok"}
    await gateway.gql(GET, {"id": new_file_id()})
    response = await gateway.post({"query": "{ __typename }"}, **{"x-correlation-id": "req-123"})
    assert response.headers["x-correlation-id"] == "req-123"
    fresh = await gateway.post({"query": "{ __typename }"})
    assert len(fresh.headers["x-correlation-id"]) == 32
    metrics = (await gateway.http.get("/metrics")).text
    assert 'gateway_graphql_operations_total{operation="getFile",outcome="NOT_FOUND"} 1.0' in metrics
    assert 'gateway_http_requests_total{outcome="ok"}' in metrics


async def test_readyz_reports_an_unreachable_store(start_gateway: Start) -> None:
    gateway = await start_gateway(s3_bucket="no-such-bucket-" + new_file_id()[:8])
    ready = await gateway.http.get("/readyz")
    assert ready.status_code == 503 and json.loads(ready.text)["status"] == "not ready"
    assert ready.json()["checks"]["catalog"] == "ok"


async def test_readyz_reports_a_lost_database(start_gateway: Start, database: Database) -> None:
    gateway = await start_gateway()
    assert (await gateway.http.get("/readyz")).status_code == 200
    await database.drop(gateway.settings.database_url.get_secret_value())
    ready = await gateway.http.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["catalog"] != "ok"
    assert ready.json()["checks"]["s3"] == "ok"


async def test_an_unreachable_object_store_is_unavailable_not_a_crash(start_gateway: Start) -> None:
    gateway = await start_gateway(s3_endpoint_url=f"http://127.0.0.1:{free_port()}")
    response = await gateway.post({"query": CREATE, "variables": {"data": {"key": f"{new_file_id()}/a.png"}}})
    # The only operation failed because S3 does not answer: the whole response is a retryable 503.
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    created = response.json()["data"]["fileManager"]
    assert created["createFile"]["data"] is None
    assert created["createFile"]["error"]["code"] == "STORAGE_UNAVAILABLE"
    assert created["createFile"]["error"]["data"] == {"retryable": True, "retryAfter": 5}
    ready = await gateway.http.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["catalog"] == "ok"
