"""When the caller of a resize request stops waiting for its reply.

The download service sends each request with its send time (``x-sent-at``, microseconds since
the epoch) and an AMQP ``expiration`` equal to how long it waits. The broker drops the request
once it has waited that long in the queue; a request already taken by a worker (prefetched, or
waiting for a kernel process) is skipped by the worker once the caller has given up: nobody
would read the reply, and the next request for the variant does the work then.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from shared.messages import SENT_AT_HEADER


def caller_deadline(headers: Mapping[str, Any] | None, expiration: object) -> float | None:
    """Epoch seconds after which nobody waits for the reply; None when the request does not say.

    ``expiration`` is the incoming message's, in seconds (aio-pika decodes the AMQP milliseconds).
    """
    sent_at = (headers or {}).get(SENT_AT_HEADER)
    if not isinstance(expiration, int | float) or not isinstance(sent_at, int) or isinstance(sent_at, bool):
        return None
    return sent_at / 1e6 + float(expiration)


def still_wanted(deadline: float | None, *, now: float | None = None) -> bool:
    return deadline is None or (time.time() if now is None else now) < deadline
