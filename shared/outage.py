"""Which failures are a dependency's and not the message's: classified once, for every consumer.

A handler fails either because of its message (it is malformed, names something impossible, trips
a bug) or because something the handler needs does not answer: the database, the object store, the
broker. Only the first kind may spend the attempts that end in the dead-letter queue; the second
kind waits for the dependency (``shared.broker.Consumer``), however long it is down.

``dependency_of`` looks at an exception and the exceptions it was raised from (``__cause__`` /
``__context__``), so a ``DatabaseUnavailable`` raised ``from`` an asyncpg error and the asyncpg
error itself are both the database's. A failure it cannot name (say a bare ``OSError``) is
``UNKNOWN``: a dependency's, but which one the consumer finds out by probing them all. Everything
else is ``None``: the message's own.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import aiormq.exceptions
import asyncpg
import urllib3.exceptions
from aio_pika.exceptions import AMQPConnectionError, ChannelClosed, ChannelInvalidStateError
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from shared.errors import DependencyUnavailable

DATABASE = "database"
STORAGE = "storage"
BROKER = "broker"
UNKNOWN = "unknown"  # a dependency's failure, but not one that says which

# asyncpg: the server is down, shutting down, starting, out of connections, or the connection broke.
_DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.OperatorInterventionError,  # admin shutdown, crash shutdown, cannot connect now
    asyncpg.InsufficientResourcesError,  # too many connections, disk full, out of memory
)
# botocore: no connection, a connection that broke or timed out, a proxy in between that failed.
_STORAGE_ERRORS: tuple[type[BaseException], ...] = (
    BotoConnectionError,
    HTTPClientError,
    urllib3.exceptions.HTTPError,  # a body cut off while it is read (boto3 reads through urllib3)
)
# S3 answers these when it is overloaded or failing, not because of the request.
STORAGE_BUSY_CODES = frozenset(
    {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "Throttling", "ThrottlingException"}
)
_BROKER_ERRORS: tuple[type[BaseException], ...] = (
    AMQPConnectionError,
    ChannelClosed,
    ChannelInvalidStateError,
    aiormq.exceptions.ConnectionClosed,
    aiormq.exceptions.ChannelInvalidStateError,
)
# Raised by a dependency's client without saying whose (socket errors, timeouts).
_ANONYMOUS_ERRORS: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError, OSError)
_CHAIN_LIMIT = 16


def storage_busy(exc: ClientError) -> bool:
    """An S3 answer that says the store, not the request, failed: a 5xx status or a busy code."""
    response = exc.response or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in STORAGE_BUSY_CODES or (isinstance(status, int) and status >= 500)


def _classify_one(exc: BaseException) -> str | None:
    if isinstance(exc, DependencyUnavailable):
        return exc.dependency
    if isinstance(exc, _DATABASE_ERRORS):
        return DATABASE
    if isinstance(exc, _STORAGE_ERRORS):
        return STORAGE
    if isinstance(exc, ClientError):
        return STORAGE if storage_busy(exc) else None
    if isinstance(exc, _BROKER_ERRORS):
        return BROKER
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it was raised from or during, nearest first, each once."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(seen) < _CHAIN_LIMIT and all(current is not s for s in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def dependency_of(exc: BaseException) -> str | None:
    """The dependency whose failure ``exc`` is (``DATABASE``, ``STORAGE``, ``BROKER``, or
    ``UNKNOWN`` for a socket error or timeout that names none), or None: the message's own failure."""
    chain = _chain(exc)
    for link in chain:
        found = _classify_one(link)
        if found is not None:
            return found
    if any(isinstance(link, _ANONYMOUS_ERRORS) for link in chain):
        return UNKNOWN
    return None
