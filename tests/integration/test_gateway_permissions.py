"""Tokens limited to their own files (files:*:own) against the real catalog: another user's files
are NOT_FOUND, never FORBIDDEN, and never listed."""

from __future__ import annotations

from shared.s3 import ObjectStore
from tests.support.gateway import CREATE, DELETE, GET, LIST, TAG_COUNTS, TAGS, UPDATE, Start, start_gateway, upload

__all__ = ["start_gateway"]

OWN = "files:read:own files:write:own files:delete:own"


async def test_own_scopes_see_change_and_delete_only_their_records(start_gateway: Start, store: ObjectStore) -> None:
    gateway = await start_gateway()
    alices = await gateway.upload_file("alice.png", b"a", "image/png", tags=["alice"], scope=OWN, sub="alice")
    bobs = await gateway.upload_file("bob.png", b"b", "image/png", tags=["bob"], scope=OWN, sub="bob")
    assert alices["createdBy"]["id"] == "alice" and bobs["createdBy"]["id"] == "bob"

    as_alice = {"scope": OWN, "sub": "alice"}
    listed = (await gateway.gql(LIST, {}, **as_alice))["listFiles"]
    assert [f["id"] for f in listed["data"]] == [alices["id"]] and listed["meta"]["totalCount"] == 1
    by_bob = (await gateway.gql(LIST, {"where": {"createdBy": "bob"}}, **as_alice))["listFiles"]
    assert by_bob["data"] == [] and by_bob["meta"]["totalCount"] == 0
    assert (await gateway.gql(TAGS, {}, **as_alice))["listTags"] == ["alice"]
    counts = (await gateway.gql(TAG_COUNTS, {}, **as_alice))["listTagsWithCount"]["data"]
    assert counts == [{"tag": "alice", "count": 1}]

    assert (await gateway.gql(GET, {"id": alices["id"]}, **as_alice))["getFile"]["data"]["id"] == alices["id"]
    for operation, query, variables in (
        ("getFile", GET, {"id": bobs["id"]}),
        ("updateFile", UPDATE, {"id": bobs["id"], "data": {"name": "mine.png", "tags": ["stolen"]}}),
        ("deleteFile", DELETE, {"id": bobs["id"]}),
        ("createFile", CREATE, {"data": {"key": bobs["key"], "name": "mine.png"}}),
    ):
        result = (await gateway.gql(query, variables, **as_alice))[operation]
        assert result["data"] is None and result["error"]["code"] == "NOT_FOUND", operation

    assert await store.head(bobs["key"]) is not None, "bob's file is untouched"
    as_bob = (await gateway.gql(GET, {"id": bobs["id"]}, scope=OWN, sub="bob"))["getFile"]["data"]
    assert (as_bob["name"], as_bob["tags"]) == ("bob.png", ["bob"])

    mine = await gateway.gql(UPDATE, {"id": alices["id"], "data": {"tags": ["Mine"]}}, **as_alice)
    assert mine["updateFile"]["data"]["tags"] == ["mine"]
    deleted = await gateway.gql(DELETE, {"id": alices["id"]}, **as_alice)
    assert deleted["deleteFile"] == {"data": True, "error": None}
    assert await store.head(alices["key"]) is None

    everyone = (await gateway.gql(LIST, {}, scope="files:read", sub="admin"))["listFiles"]
    assert [f["id"] for f in everyone["data"]] == [bobs["id"]]


async def test_mixed_scopes_are_per_action(start_gateway: Start, store: ObjectStore) -> None:
    gateway = await start_gateway()
    bobs = await gateway.upload_file("bob.txt", b"b", "text/plain", sub="bob")
    reader = {"scope": "files:read files:delete:own", "sub": "carol"}
    assert (await gateway.gql(GET, {"id": bobs["id"]}, **reader))["getFile"]["data"]["id"] == bobs["id"]
    refused = (await gateway.gql(DELETE, {"id": bobs["id"]}, **reader))["deleteFile"]
    assert refused["error"]["code"] == "NOT_FOUND"
    no_scope = (await gateway.gql(DELETE, {"id": bobs["id"]}, scope="files:read", sub="carol"))["deleteFile"]
    assert no_scope["error"]["code"] == "FORBIDDEN"
    assert await store.head(bobs["key"]) is not None


async def test_create_file_on_someone_elses_upload(start_gateway: Start) -> None:
    """The upload carries its requester in S3 metadata (pinned by the POST policy), so even before
    any record is ready an :own token cannot register another user's upload."""
    gateway = await start_gateway()
    result = await gateway.presign("bob.txt", "text/plain", 10, scope=OWN, sub="bob")
    assert (await upload(result, b"bobs file")).status_code == 204
    key = result["data"]["file"]["key"]

    stolen = (await gateway.gql(CREATE, {"data": {"key": key, "name": key}}, scope=OWN, sub="alice"))["createFile"]
    assert stolen["data"] is None and stolen["error"]["code"] == "NOT_FOUND"

    by_admin = await gateway.gql(CREATE, {"data": {"key": key, "name": key}}, scope="files:write", sub="admin")
    assert by_admin["createFile"]["data"]["createdBy"]["id"] == "bob", "the uploader stays the creator"
    mine = (await gateway.gql(LIST, {}, scope=OWN, sub="bob"))["listFiles"]["data"]
    assert [f["key"] for f in mine] == [key]


async def test_a_forged_creator_field_is_refused_by_s3(start_gateway: Start, store: ObjectStore) -> None:
    gateway = await start_gateway()
    result = await gateway.presign("mine.txt", "text/plain", 10, scope=OWN, sub="mallory")
    response = await upload(result, b"x", **{"x-amz-meta-created-by": "alice"})
    assert response.status_code >= 400
    assert await store.head(result["data"]["file"]["key"]) is None
