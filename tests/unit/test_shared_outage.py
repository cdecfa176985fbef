"""Which failures are a dependency's (held without spending attempts) and which the message's own."""

from __future__ import annotations

from typing import Any

import aiormq.exceptions
import asyncpg
import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

from shared.errors import (
    BadRequest,
    DatabaseUnavailable,
    NotAnImage,
    StorageUnavailable,
    Unavailable,
    error_from_code,
)
from shared.outage import BROKER, DATABASE, STORAGE, UNKNOWN, dependency_of, storage_busy


def client_error(code: str, status: int) -> ClientError:
    response: Any = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "GetObject")


def raised_from(outer: Exception, inner: BaseException) -> Exception:
    outer.__cause__ = inner
    return outer


@pytest.mark.parametrize(
    ("exc", "dependency"),
    [
        (DatabaseUnavailable(), DATABASE),
        (StorageUnavailable(), STORAGE),
        (asyncpg.CannotConnectNowError("starting up"), DATABASE),
        (asyncpg.AdminShutdownError("terminating"), DATABASE),
        (asyncpg.ConnectionDoesNotExistError("closed mid-operation"), DATABASE),
        (asyncpg.TooManyConnectionsError("too many"), DATABASE),
        (asyncpg.InterfaceError("pool is closing"), DATABASE),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), STORAGE),
        (ConnectTimeoutError(endpoint_url="http://127.0.0.1:1"), STORAGE),
        (ReadTimeoutError(endpoint_url="http://127.0.0.1:1"), STORAGE),
        (client_error("SlowDown", 503), STORAGE),
        (client_error("InternalError", 500), STORAGE),
        (client_error("Whatever", 502), STORAGE),
        (aiormq.exceptions.ConnectionClosed(320, "shutdown"), BROKER),
        (ConnectionRefusedError(111, "refused"), UNKNOWN),  # a socket error that names nobody
        (TimeoutError(), UNKNOWN),
        # the message's own
        (client_error("AccessDenied", 403), None),
        (client_error("NoSuchKey", 404), None),
        (Unavailable("not migrated"), None),
        (NotAnImage(), None),
        (BadRequest(), None),
        (ValueError("bad body"), None),
        (KeyError("x"), None),
        (asyncpg.UniqueViolationError("duplicate"), None),
    ],
)
def test_dependency_of(exc: BaseException, dependency: str | None) -> None:
    assert dependency_of(exc) == dependency


def test_a_wrapped_failure_is_classified_by_its_cause() -> None:
    assert dependency_of(raised_from(Unavailable("store"), EndpointConnectionError(endpoint_url="x"))) == STORAGE
    assert dependency_of(raised_from(RuntimeError("query"), asyncpg.CannotConnectNowError("x"))) == DATABASE
    assert dependency_of(raised_from(ValueError("parse"), KeyError("k"))) is None


def test_a_named_dependency_wins_over_a_socket_error_further_down() -> None:
    assert dependency_of(raised_from(DatabaseUnavailable(), ConnectionRefusedError())) == DATABASE


def test_a_cyclic_chain_ends() -> None:
    a, b = ValueError("a"), ValueError("b")
    a.__context__, b.__context__ = b, a
    assert dependency_of(a) is None


def test_storage_busy() -> None:
    assert storage_busy(client_error("SlowDown", 200))  # some stores send SlowDown without a 503
    assert not storage_busy(client_error("AccessDenied", 403))


def test_dependency_errors_say_they_are_retryable_and_how_long_to_wait() -> None:
    error = DatabaseUnavailable()
    assert (error.status, error.code, error.retryable) == (503, "DATABASE_UNAVAILABLE", True)
    assert isinstance(error, Unavailable)
    assert error.to_dict()["data"] == {"retryable": True, "retryAfter": 5}
    rebuilt = error_from_code("STORAGE_UNAVAILABLE", "down")
    assert isinstance(rebuilt, StorageUnavailable) and rebuilt.to_dict()["data"]["retryable"] is True
