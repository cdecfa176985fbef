"""Webiny's admin app (v5.34 File Manager) against the gateway, unchanged: its operations in its
own shape (Apollo adds ``__typename`` to every selection and batches what is fired together),
undeclared ``sort``/``scope`` variables, the form POSTed field by field with ``file`` last and only
204 counted as success, then ``createFile`` with the key as the name. The assertions are what a
user of that app would see: the installed check, the size limit, the grid, the tags, the pages."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.gateway import Gateway, Start, start_gateway

__all__ = ["start_gateway"]

IS_INSTALLED = "query IsFileManagerInstalled { fileManager { version __typename } }"
GET_SETTINGS = """query GetFileManagerSettings { fileManager { getSettings { data { uploadMaxFileSize __typename }
  __typename } __typename } }"""
FILE_SELECTION = "id name key src size type tags createdOn createdBy { id __typename } __typename"
LIST_FILES = f"""query ListFiles($types: [String], $tags: [String], $limit: Int, $search: String, $after: String,
  $where: FileWhereInput) {{
  fileManager {{
    listFiles(types: $types, limit: $limit, search: $search, tags: $tags, after: $after, where: $where) {{
      data {{ {FILE_SELECTION} }}
      meta {{ cursor totalCount __typename }}
      __typename
    }}
    __typename
  }}
}}"""
LIST_TAGS = "query ListTags($where: TagWhereInput) { fileManager { listTags(where: $where) __typename } }"
GET_PRESIGNED = """query GetPreSignedPostPayload($data: PreSignedPostPayloadInput!) {
  fileManager { getPreSignedPostPayload(data: $data) {
    data { data file { name type size key __typename } __typename }
    error { code data message __typename } __typename } __typename } }"""
CREATE_FILE = f"""mutation CreateFile($data: FileInput!) {{
  fileManager {{ createFile(data: $data) {{ error {{ code message data __typename }}
    data {{ {FILE_SELECTION} }} __typename }} __typename }} }}"""
UPDATE_FILE = f"""mutation UpdateFile($id: ID!, $data: FileInput!) {{
  fileManager {{ updateFile(id: $id, data: $data) {{ data {{ {FILE_SELECTION} }}
    error {{ code message data __typename }} __typename }} __typename }} }}"""
DELETE_FILE = """mutation DeleteFile($id: ID!) { fileManager { deleteFile(id: $id) { data error { message __typename }
  __typename } __typename } }"""
MAIN_VIEW = {"tag_not_startsWith": "scope:"}


def op(name: str, query: str, **variables: Any) -> dict[str, Any]:
    """One operation as Apollo's batch link sends it (with the app's undeclared extras)."""
    return {"operationName": name, "variables": {"sort": ["createdOn_DESC"], "scope": None, **variables},
            "query": query}  # fmt: skip


async def batch(gateway: Gateway, *operations: dict[str, Any]) -> list[dict[str, Any]]:
    response = await gateway.post(list(operations))
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()
    assert len(results) == len(operations)
    for result in results:
        assert "errors" not in result, result
    return [r["data"]["fileManager"] for r in results]


async def upload_as_the_app(gateway: Gateway, name: str, mime: str, content: bytes, tags: list[str]) -> dict[str, Any]:
    (payload,) = await batch(
        gateway, op("GetPreSignedPostPayload", GET_PRESIGNED, data={"name": name, "type": mime, "size": len(content)})
    )
    result = payload["getPreSignedPostPayload"]
    assert result["error"] is None
    form, file = result["data"]["data"], result["data"]["file"]
    # every returned field, in order, then the file as the field named "file"; only 204 counts
    parts: list[tuple[str, tuple[None, str] | tuple[str, bytes, str]]] = [
        (k, (None, str(v))) for k, v in form["fields"].items()
    ]
    parts.append(("file", (name, content, mime)))
    async with httpx.AsyncClient(timeout=30) as client:
        posted = await client.post(form["url"], files=parts)
    assert posted.status_code == 204, posted.text
    (created,) = await batch(
        gateway,
        op("CreateFile", CREATE_FILE, data={"key": file["key"], "name": file["name"], "size": file["size"],
                                            "type": file["type"], "tags": tags}),
    )  # fmt: skip
    assert created["createFile"]["error"] is None
    record: dict[str, Any] = created["createFile"]["data"]
    return record


async def test_the_admin_app_from_opening_to_deleting(start_gateway: Start) -> None:
    gateway = await start_gateway(upload_max_size=20 * 1024**2)

    # opening the File Manager: installed check, size limit, grid, tags in one batch
    installed, settings, grid, tags = await batch(
        gateway,
        op("IsFileManagerInstalled", IS_INSTALLED),
        op("GetFileManagerSettings", GET_SETTINGS),
        op("ListFiles", LIST_FILES, limit=50, types=[], tags=[], where=MAIN_VIEW, after=None, search=None),
        op("ListTags", LIST_TAGS, where=MAIN_VIEW),
    )
    assert installed["version"], "the app shows its installer when version is null"
    assert settings["getSettings"]["data"] == {"uploadMaxFileSize": 20 * 1024**2, "__typename": "Settings"}
    assert grid["listFiles"]["data"] == [] and grid["listFiles"]["meta"]["cursor"] is None
    assert tags["listTags"] == []

    # uploading three files, as the app does one by one
    photo = await upload_as_the_app(gateway, "Beach day.jpg", "image/jpeg", b"\xff\xd8\xff jpeg", ["Summer"])
    logo = await upload_as_the_app(gateway, "logo.png", "image/png", b"\x89PNG logo", ["brand", "scope:apw"])
    doc = await upload_as_the_app(gateway, "terms.pdf", "application/pdf", b"%PDF terms", [])
    assert photo["name"] == "Beach day.jpg", "the grid shows the file name, not the key"
    assert photo["src"].endswith(f"/files/{photo['id']}/Beach%20day.jpg")
    assert photo["tags"] == ["summer"] and photo["__typename"] == "File"

    # the grid: newest first, scope: tags hidden, one per page with the cursor
    first, tags = await batch(
        gateway,
        op("ListFiles", LIST_FILES, limit=1, types=[], tags=[], where=MAIN_VIEW),
        op("ListTags", LIST_TAGS, where=MAIN_VIEW),
    )
    page = first["listFiles"]
    assert [f["name"] for f in page["data"]] == ["terms.pdf"]
    assert page["meta"]["totalCount"] == 2 and page["meta"]["cursor"]
    assert tags["listTags"] == ["brand", "summer"], "tags filtered by name, not by file"
    (second,) = await batch(
        gateway, op("ListFiles", LIST_FILES, limit=1, where=MAIN_VIEW, after=page["meta"]["cursor"])
    )
    assert [f["name"] for f in second["listFiles"]["data"]] == ["Beach day.jpg"]
    assert second["listFiles"]["meta"]["cursor"] is None, "null: the app stops asking for more"

    # the app's filters: images only, by tag, by search, a scope's own view
    images, summer, search, scoped = await batch(
        gateway,
        op("ListFiles", LIST_FILES, limit=40, types=["image/jpeg", "image/png"], where=MAIN_VIEW),
        op("ListFiles", LIST_FILES, limit=40, tags=["summer"], where=MAIN_VIEW),
        op("ListFiles", LIST_FILES, limit=40, search="terms", where=MAIN_VIEW),
        op("ListFiles", LIST_FILES, limit=40, where={"tag_startsWith": "scope:apw", "createdBy": "dev"}),
    )
    assert [f["name"] for f in images["listFiles"]["data"]] == ["Beach day.jpg"]
    assert [f["name"] for f in summer["listFiles"]["data"]] == ["Beach day.jpg"]
    assert [f["name"] for f in search["listFiles"]["data"]] == ["terms.pdf"]
    assert [f["name"] for f in scoped["listFiles"]["data"]] == ["logo.png"]

    # editing tags in the file details, then deleting
    (updated,) = await batch(
        gateway, op("UpdateFile", UPDATE_FILE, id=photo["id"], data={"tags": ["summer", "Holiday"]})
    )
    assert updated["updateFile"]["data"]["tags"] == ["summer", "holiday"]
    (deleted,) = await batch(gateway, op("DeleteFile", DELETE_FILE, id=doc["id"]))
    assert deleted["deleteFile"] == {"data": True, "error": None, "__typename": "BooleanResponse"}
    grid, tags = await batch(
        gateway,
        op("ListFiles", LIST_FILES, limit=50, where=MAIN_VIEW),
        op("ListTags", LIST_TAGS, where=MAIN_VIEW),
    )
    assert [f["name"] for f in grid["listFiles"]["data"]] == ["Beach day.jpg"]
    assert tags["listTags"] == ["brand", "holiday", "summer"]
    assert logo["id"] not in [f["id"] for f in grid["listFiles"]["data"]]


async def test_the_app_sees_a_too_big_file_refused_with_a_readable_error(start_gateway: Start) -> None:
    gateway = await start_gateway(upload_max_size=1000)
    (payload,) = await batch(
        gateway, op("GetPreSignedPostPayload", GET_PRESIGNED, data={"name": "big.mov", "type": "video/quicktime",
                                                                    "size": 1001})
    )  # fmt: skip
    result = payload["getPreSignedPostPayload"]
    assert result["data"] is None
    assert result["error"]["code"] == "VALIDATION_FAILED" and "1000 bytes" in result["error"]["message"]
    assert result["error"]["__typename"] == "FmError"
