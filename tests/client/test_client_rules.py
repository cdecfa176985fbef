"""The client's pure rules against the service's own: width snapping, part counts and sizes, the
error codes it knows, the retry contract, the dev token and the form body."""

from __future__ import annotations

import inspect
import random

import httpx
import jwt
import pytest
from fileservice import _transfer
from fileservice import _wire as wire
from fileservice._core import variant_url
from fileservice._retry import RetryPolicy
from fileservice._wire import field_result, storage_error, transport_error
from fileservice.config import dev_token, gateway_url, token_for
from fileservice.errors import (
    BY_CODE,
    DatabaseUnavailable,
    FileServiceError,
    ImageRefused,
    InvalidFormat,
    InvalidWidth,
    ResizeTimeout,
    StorageRefused,
    StorageUnavailable,
    Unauthorized,
    Unavailable,
    ValidationFailed,
    error_for,
)
from fileservice.widths import DEFAULT_WIDTHS, snap_width

import shared.errors
from services.gateway.uploads import MAX_PARTS, MIN_PART_SIZE, check_part_count, part_sizes
from shared.geometry import DEFAULT_WIDTHS as SERVICE_WIDTHS
from shared.geometry import snap_width as service_snap


def test_widths_snap_as_the_download_service_snaps_them() -> None:
    assert DEFAULT_WIDTHS == SERVICE_WIDTHS
    for requested in [1, 50, 99, 100, 101, 282, 300, 301, 749, 1001, 2500, 2501, 3000, 999_999]:
        assert snap_width(requested) == service_snap(requested, SERVICE_WIDTHS), requested
    assert snap_width(282, (200, 400)) == 400


def test_urls_of_a_width_and_format() -> None:
    src = "http://127.0.0.1:8001/files/abc/a%20b.jpg"
    assert variant_url(src, DEFAULT_WIDTHS) == src
    assert variant_url(src, DEFAULT_WIDTHS, 282) == src + "?width=300"
    assert variant_url(src, DEFAULT_WIDTHS, 3000, "WEBP") == src + "?width=2500&format=webp"
    for bad in (0, -5, True, 10_000_000):
        with pytest.raises(InvalidWidth):
            variant_url(src, DEFAULT_WIDTHS, bad)
    with pytest.raises(InvalidFormat):
        variant_url(src, DEFAULT_WIDTHS, None, "gif")


@pytest.mark.parametrize(
    "size",
    [1, MIN_PART_SIZE - 1, MIN_PART_SIZE, MIN_PART_SIZE + 1, 16 * 1024**2, 100 * 1024**2 + 7, 20 * 1024**3],
)
@pytest.mark.parametrize("part_size", [MIN_PART_SIZE, 8 * 1024**2, 64 * 1024**2])
def test_the_part_count_is_one_the_gateway_accepts(size: int, part_size: int) -> None:
    count = _transfer.number_of_parts(size, part_size)
    assert check_part_count(count, size) == count
    sizes = part_sizes(size, count)
    offsets = _transfer.part_offsets(sizes)
    assert offsets[0] == 0 and offsets[-1] + sizes[-1] == size
    assert all(s >= MIN_PART_SIZE for s in sizes[:-1])


def test_a_huge_file_is_capped_at_the_most_parts() -> None:
    size = 6000 * MIN_PART_SIZE
    count = _transfer.number_of_parts(size, MIN_PART_SIZE)
    assert count == MAX_PARTS and check_part_count(count, size) == count


def test_the_client_knows_every_public_code_of_the_service() -> None:
    service_errors = [
        cls
        for _, cls in inspect.getmembers(shared.errors, inspect.isclass)
        if issubclass(cls, shared.errors.ServiceError) and cls is not shared.errors.ServiceError
    ]
    assert len(service_errors) > 15
    for cls in service_errors:
        error = error_for(cls.code, "m", status=cls.status)
        assert type(error) is BY_CODE[cls.code] and error.code == cls.code, cls
        assert error.retryable == cls.retryable, cls
    assert isinstance(error_for("TOO_MANY_SCANS", "m"), ImageRefused)
    unknown = error_for("SOMETHING_NEW", "m", status=418)
    assert type(unknown) is FileServiceError and unknown.code == "SOMETHING_NEW" and not unknown.retryable


def _response(status: int, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers, request=httpx.Request("POST", "http://gw/graphql"))


def test_the_retryable_error_contract() -> None:
    """DATABASE_UNAVAILABLE in a field's error (the contract's shape), with retryAfter."""
    body = {
        "data": {
            "fileManager": {
                "getFile": {
                    "data": None,
                    "error": {
                        "code": "DATABASE_UNAVAILABLE",
                        "message": "The catalog is not reachable.",
                        "data": {"retryable": True, "retryAfter": 3},
                    },
                }
            }
        }
    }
    with pytest.raises(DatabaseUnavailable) as caught:
        field_result(_response(200, body), "getFile")
    assert caught.value.retryable and caught.value.retry_after == 3.0
    assert RetryPolicy().delay(1, caught.value) == 3.0
    assert RetryPolicy(max_attempts=2).delay(2, caught.value) is None

    # a whole response refused: 503 with Retry-After
    whole = _response(
        503, {"errors": [{"message": "down", "extensions": {"code": "DATABASE_UNAVAILABLE"}}]}, {"Retry-After": "2"}
    )
    with pytest.raises(DatabaseUnavailable) as caught:
        field_result(whole, "getFile")
    assert caught.value.retry_after == 2.0

    # a whole response refused, its fields answered with their errors: 503, Retry-After in the header only
    fields = {
        "data": {"fileManager": {"getFile": {"data": None, "error": {"code": "DATABASE_UNAVAILABLE", "message": "m"}}}}
    }
    with pytest.raises(DatabaseUnavailable) as caught:
        field_result(_response(503, fields, {"Retry-After": "4"}), "getFile")
    assert caught.value.retryable and caught.value.retry_after == 4.0 and caught.value.status == 503
    # an error of the namespace field itself
    namespace = {
        "data": {"fileManager": None},
        "errors": [{"message": "m", "path": ["fileManager"], "extensions": {"code": "UNAVAILABLE"}}],
    }
    with pytest.raises(Unavailable):
        field_result(_response(200, namespace), "getFile")

    # any code whose data says retryable, and a bare 429/503
    flagged = error_for("SOMETHING_NEW", "m", data={"retryable": True})
    assert flagged.retryable
    assert error_for("SOMETHING_NEW", "m", status=429).retryable
    assert not error_for("VALIDATION_FAILED", "m", status=400).retryable
    random.seed(1)
    delays = [RetryPolicy(base=0.5, cap=8).delay(n, error_for("UNAVAILABLE", "m")) for n in range(1, 4)]
    assert all(d is not None and 0 <= d <= 0.5 * 2 ** (n) for n, d in enumerate(delays))
    assert RetryPolicy().delay(1, ValidationFailed("no")) is None
    assert RetryPolicy().delay(1, ResizeTimeout("later", retry_after=500)) == 60.0, "Retry-After is bounded"


def test_a_lost_answer_is_retried_only_where_repeating_changes_nothing() -> None:
    request = httpx.Request("POST", "http://gw/graphql")
    refused = httpx.ConnectError("refused", request=request)
    lost = httpx.ReadError("reset", request=request)
    assert transport_error(refused, "deleteFile", idempotent=False).retryable, "never arrived"
    assert transport_error(lost, "getFile").retryable
    assert not transport_error(lost, "deleteFile", idempotent=False).retryable, "may have been done"
    assert transport_error(lost, "x").code == "CONNECTION_FAILED"


def test_field_errors_and_401() -> None:
    body = {
        "data": {
            "fileManager": {
                "updateFile": {
                    "data": None,
                    "error": {"code": "VALIDATION_FAILED", "message": "bad", "data": {"invalidFields": {}}},
                }
            }
        }
    }
    with pytest.raises(ValidationFailed) as caught:
        field_result(_response(200, body), "updateFile")
    assert caught.value.data == {"invalidFields": {}}
    with pytest.raises(Unauthorized):
        field_result(_response(401, {"errors": [{"message": "A valid bearer token is required."}]}), "getFile")


def test_storage_refusals() -> None:
    xml = "<?xml version='1.0'?><Error><Code>AccessDenied</Code><Message>Invalid according to Policy</Message></Error>"
    refused = storage_error(httpx.Response(403, text=xml, request=httpx.Request("POST", "http://s3/")))
    assert isinstance(refused, StorageRefused) and refused.s3_code == "AccessDenied" and not refused.retryable
    assert "Invalid according to Policy" in refused.message
    busy = storage_error(
        httpx.Response(503, text="<Error><Code>SlowDown</Code></Error>", request=httpx.Request("PUT", "http://s3/"))
    )
    assert isinstance(busy, StorageUnavailable) and busy.retryable


def test_the_dev_token_is_what_the_dev_stack_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    claims = jwt.decode(dev_token("dev-secret"), "dev-secret", algorithms=["HS256"])
    assert claims["sub"] == "dev" and claims["scope"] == "files:*" and claims["exp"] > claims["iat"]
    monkeypatch.delenv("FILESERVICE_TOKEN", raising=False)
    monkeypatch.delenv("FILESERVICE_GATEWAY", raising=False)
    assert gateway_url() == "http://127.0.0.1:8000"
    assert gateway_url("http://gw.example/graphql/") == "http://gw.example"
    assert token_for("http://127.0.0.1:8000") is not None
    assert token_for("https://files.example.com") is None, "no dev token for a remote gateway"
    monkeypatch.setenv("FILESERVICE_TOKEN", "T")
    assert token_for("https://files.example.com") == "T"
    assert token_for("https://files.example.com", "given") == "given"


def test_the_form_body_posts_every_field_then_the_file() -> None:
    source = _transfer.Source.of(b"hello", "h.txt")
    body = _transfer.FormBody.build(
        {"key": "k/h.txt", "Content-Type": "text/plain", "policy": "p"}, "h.txt", "text/plain"
    )
    sent: list[int] = []
    raw = b"".join(body.stream(source, sent.append))
    assert len(raw) == body.length(5) and sum(sent) == 5
    request = httpx.Request("POST", "http://s3/", content=raw, headers={"content-type": body.content_type})
    text = request.read().decode()
    assert (
        text.index('name="key"')
        < text.index('name="Content-Type"')
        < text.index('name="policy"')
        < text.index('name="file"')
    )
    assert "\r\n\r\nhello\r\n--" in text


def test_every_document_is_valid_for_the_gateways_schema() -> None:
    from pathlib import Path

    from graphql import build_schema, parse, validate

    import services.gateway

    sdl = (Path(services.gateway.__file__).parent / "schema.graphql").read_text()
    schema = build_schema(sdl)
    documents = {name: value for name, value in vars(wire).items() if name.isupper() and isinstance(value, str)}
    documents = {k: v for k, v in documents.items() if v.lstrip().startswith(("query", "mutation"))}
    assert len(documents) == 10
    for name, document in documents.items():
        assert validate(schema, parse(document)) == [], name


def test_the_package_stands_alone_and_the_command_starts_without_httpx() -> None:
    """Only the standard library, httpx and itself; the command imports httpx only to run a command."""
    import ast
    import subprocess
    import sys
    from pathlib import Path

    import fileservice

    allowed = {"fileservice", "httpx", *sys.stdlib_module_names}
    for path in Path(fileservice.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            assert all(name.split(".")[0] in allowed for name in names), (path.name, names)
    code = (
        "import sys, fileservice.cli; fileservice.cli.parser(); "
        "print(sorted({'httpx', 'fileservice.client'} & set(sys.modules)))"
    )
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
    )
