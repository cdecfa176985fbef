"""The service's broker connection and RPC client, opened and closed by the app's lifespan."""

from __future__ import annotations

from collections.abc import Callable

from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from shared.broker import (
    RpcCall,
    RpcClient,
    check_connection,
    connect,
    declare_events_exchange,
)
from shared.errors import Unavailable
from shared.events import OBJECT_CREATED, OBJECT_REMOVED, MalformedEvent, ObjectEvent
from shared.logging import get_logger
from shared.resize_queue import declare_requests_queue

log = get_logger(__name__)


class BrokerLink:
    def __init__(self, url: str, *, name: str, resize_queue_max_length: int) -> None:
        self._url = url
        self._name = name
        self._resize_queue_max_length = resize_queue_max_length
        self._connection: AbstractRobustConnection | None = None
        self._rpc: RpcClient | None = None

    async def start(self) -> None:
        self._connection = await connect(self._url, name=self._name)
        await self._declare_resize_queue(self._connection)
        self._rpc = await RpcClient.create(self._connection)
        log.info("broker connected")

    async def _declare_resize_queue(self, connection: AbstractRobustConnection) -> None:
        """Declare the work queue (bounded), so requests sent before any worker ever started are kept."""
        channel = await connection.channel()
        try:
            await declare_requests_queue(channel, self._resize_queue_max_length)
        finally:
            if not channel.is_closed:
                await channel.close()

    async def watch_files(self, on_change: Callable[[str], None]) -> None:
        """Call ``on_change(key)`` for every ``object.created``/``object.removed`` event (cache eviction).

        An exclusive, auto-deleted queue of this process bound to ``files.events``: fan-out, so
        every replica hears every event; the robust connection re-declares it after a reconnect.
        A malformed event is dropped (it names nothing to evict).
        """
        if self._connection is None:
            raise Unavailable("Not connected to the broker.")
        channel = await self._connection.channel()
        exchange = await declare_events_exchange(channel)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        for event_type in (OBJECT_CREATED, OBJECT_REMOVED):
            await queue.bind(exchange, routing_key=event_type)

        async def on_message(message: AbstractIncomingMessage) -> None:
            try:
                event = ObjectEvent.from_json(message.body)
            except MalformedEvent as exc:
                log.warning("malformed file event ignored", error=str(exc))
                return
            on_change(event.key)

        await queue.consume(on_message, no_ack=True)

    async def stop(self) -> None:
        if self._connection is not None:
            await self._connection.close()
        self._connection = None
        self._rpc = None

    @property
    def call(self) -> RpcCall:
        """The RPC client's ``call`` (so this link is an ``RpcCaller``); ``Unavailable`` before ``start``."""
        if self._rpc is None:
            raise Unavailable("Not connected to the broker.")
        return self._rpc.call

    async def check(self) -> None:
        """Readiness: raise unless the connection is up."""
        await check_connection(self._connection)
