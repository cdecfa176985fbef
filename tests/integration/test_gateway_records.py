"""updateFile, tags, listTags and their counts, settings: against the real catalog, S3 and broker."""

from __future__ import annotations

from tests.support.gateway import (
    GET,
    LIST,
    PRESIGN_MANY,
    SETTINGS,
    TAG_COUNTS,
    TAGS,
    UPDATE,
    UPDATE_SETTINGS,
    Start,
    start_gateway,
    upload,
)

__all__ = ["start_gateway"]


async def test_update_file_changes_name_tags_and_meta(start_gateway: Start) -> None:
    gateway = await start_gateway()
    record = await gateway.upload_file("a.png", b"png", "image/png", tags=["old"])
    updated = await gateway.gql(
        UPDATE,
        {"id": record["id"], "data": {"name": "Nicer name.png", "tags": ["Blue", "blue", " Sky "], "meta": {"alt": "x"},
                                      "key": "other/key", "size": 1}},
    )  # fmt: skip
    data = updated["updateFile"]["data"]
    assert updated["updateFile"]["error"] is None
    assert (data["name"], data["tags"], data["meta"]) == ("Nicer name.png", ["blue", "sky"], {"alt": "x"})
    assert (data["key"], data["size"]) == (record["key"], record["size"]), "the bytes' facts do not change"
    fetched = (await gateway.gql(GET, {"id": record["id"]}))["getFile"]["data"]
    assert fetched["tags"] == ["blue", "sky"] and fetched["name"] == "Nicer name.png"

    only_tags = await gateway.gql(UPDATE, {"id": record["id"], "data": {"tags": []}})
    assert only_tags["updateFile"]["data"]["name"] == "Nicer name.png" and only_tags["updateFile"]["data"]["tags"] == []

    missing = await gateway.gql(UPDATE, {"id": "f" * 32, "data": {"name": "x"}})
    assert missing["updateFile"]["error"]["code"] == "NOT_FOUND"


async def test_tag_rules_are_validation_errors_naming_the_field(start_gateway: Start) -> None:
    gateway = await start_gateway()
    record = await gateway.upload_file("a.png", b"png", "image/png")
    for tags, code in (
        ([f"t{i}" for i in range(16)], "TOO_MANY"),
        (["x" * 51], "TOO_LONG"),
        (["fine", ""], "EMPTY"),
    ):
        refused = await gateway.gql(UPDATE, {"id": record["id"], "data": {"tags": tags}})
        error = refused["updateFile"]["error"]
        assert refused["updateFile"]["data"] is None and error["code"] == "VALIDATION_FAILED"
        assert error["data"]["invalidFields"]["tags"]["code"] == code
    fifteen = await gateway.gql(UPDATE, {"id": record["id"], "data": {"tags": [f"T{i}" for i in range(15)] + ["t0"]}})
    assert len(fifteen["updateFile"]["data"]["tags"]) == 15
    bad_meta = await gateway.gql(UPDATE, {"id": record["id"], "data": {"meta": [1, 2]}})
    assert bad_meta["updateFile"]["error"]["data"]["invalidFields"]["meta"]["code"] == "INVALID"
    blank_name = await gateway.gql(UPDATE, {"id": record["id"], "data": {"name": " "}})
    assert blank_name["updateFile"]["error"]["code"] == "VALIDATION_FAILED"


async def test_list_tags_as_strings_and_with_counts(start_gateway: Start) -> None:
    gateway = await start_gateway()
    await gateway.upload_file("a.png", b"1", "image/png", tags=["sky", "scope:team"])
    await gateway.upload_file("b.png", b"2", "image/png", tags=["sky", "sea"])
    await gateway.upload_file("c.png", b"3", "image/png", tags=["Sea", "sand"])
    assert (await gateway.gql(TAGS))["listTags"] == ["sea", "sky", "sand", "scope:team"]
    no_scope = await gateway.gql(TAGS, {"where": {"tag_not_startsWith": "scope:"}})
    assert no_scope["listTags"] == ["sea", "sky", "sand"]
    only_s = await gateway.gql(TAGS, {"where": {"tag_startsWith": "SC"}})
    assert only_s["listTags"] == ["scope:team"]
    counts = await gateway.gql(TAG_COUNTS, {"where": {"tag_not_startsWith": "scope:"}})
    assert counts["listTagsWithCount"] == {
        "data": [{"tag": "sea", "count": 2}, {"tag": "sky", "count": 2}, {"tag": "sand", "count": 1}],
        "error": None,
    }


async def test_settings_are_stored_and_drive_the_upload_checks(start_gateway: Start) -> None:
    gateway = await start_gateway(settings_cache_ttl=0)
    changed = await gateway.gql(
        UPDATE_SETTINGS,
        {"data": {"uploadMaxFileSize": 100, "allowedTypes": ["image/*"], "srcPrefix": "https://cdn.example/f"}},
    )
    assert changed["updateSettings"] == {
        "data": {
            "uploadMinFileSize": 1,
            "uploadMaxFileSize": 100,
            "srcPrefix": "https://cdn.example/f/",
            "allowedTypes": ["image/*"],
        },
        "error": None,
    }
    read = (await gateway.gql(SETTINGS))["getSettings"]["data"]
    assert read["uploadMaxFileSize"] == 100 and read["allowedTypes"] == ["image/*"]

    too_big = await gateway.presign("a.png", "image/png", 101)
    assert too_big["error"]["data"]["invalidFields"]["size"]["code"] == "TOO_LARGE"
    wrong_type = await gateway.presign("a.pdf", "application/pdf", 10)
    assert wrong_type["error"]["data"]["invalidFields"]["type"]["code"] == "NOT_ALLOWED"
    batch = await gateway.gql(PRESIGN_MANY, {"data": [{"name": "a.png", "type": "image/png", "size": 500}]})
    assert batch["getPreSignedPostPayloads"]["error"]["code"] == "VALIDATION_FAILED"

    record = await gateway.upload_file("ok.png", b"png", "image/png")
    assert record["src"] == f"https://cdn.example/f/{record['key']}"

    # a second replica on the same database sees the same settings
    other = await start_gateway(settings_cache_ttl=0)
    assert (await other.gql(SETTINGS))["getSettings"]["data"]["uploadMaxFileSize"] == 100

    refused = await gateway.gql(UPDATE_SETTINGS, {"data": {"uploadMinFileSize": 500}}, scope="files:*")
    assert refused["updateSettings"]["error"]["data"]["invalidFields"]["uploadMinFileSize"]["code"] == (
        "GREATER_THAN_MAX"
    )
    forbidden = await gateway.gql(UPDATE_SETTINGS, {"data": {"uploadMaxFileSize": 5}}, scope="files:read files:write")
    assert forbidden["updateSettings"]["error"]["code"] == "FORBIDDEN"
    allowed = await gateway.gql(UPDATE_SETTINGS, {"data": {"uploadMaxFileSize": 5000}}, scope="files:settings")
    assert allowed["updateSettings"]["data"]["uploadMaxFileSize"] == 5000


async def test_a_pending_upload_becomes_a_file_only_through_create_file(start_gateway: Start) -> None:
    gateway = await start_gateway()
    result = await gateway.presign("later.txt", "text/plain", 5)
    assert (await upload(result, b"hello")).status_code == 204
    listed = await gateway.gql(LIST, {})
    assert listed["listFiles"]["meta"]["totalCount"] == 0, "no event in this test: the record is still pending"
