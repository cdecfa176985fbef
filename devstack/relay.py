"""A loopback TCP relay that a test or a fault run can cut and restore: a dependency outage without
touching the dependency (the shared PostgreSQL, RabbitMQ or SeaweedFS keep running for everyone else).

``TcpRelay(target_port)`` listens on a free loopback port and forwards every connection to
``127.0.0.1:target_port``. ``cut()`` closes the listener and every open connection, so clients see
what they see when the server stops: connections reset, new ones refused. ``restore()`` listens on
the same port again. The relay runs its own event loop in a daemon thread, so it keeps forwarding
while the caller's loop is busy, and it can be used from synchronous code too.

    with TcpRelay(5432) as relay:
        url = f"postgresql://postgres@127.0.0.1:{relay.port}/files"
        ...
        relay.cut()       # the database "is down"
        relay.restore()   # and back

Also a command, for a stack run by hand: ``python -m devstack.relay LISTEN_PORT TARGET_PORT``
(SIGUSR1 cuts, SIGUSR2 restores).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
from concurrent.futures import Future
from types import TracebackType
from typing import Any

from devstack.ports import free_port

CHUNK = 64 * 1024
HOST = "127.0.0.1"


class TcpRelay:
    def __init__(self, target_port: int, *, port: int | None = None, target_host: str = HOST) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = port or free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"relay :{self.port}", daemon=True)
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()
        self.connections = 0  # accepted since start (for tests and logs)

    # --- control, from any thread ----------------------------------------------------------------

    def start(self) -> TcpRelay:
        self._thread.start()
        self.restore()
        return self

    def cut(self) -> None:
        """Stop listening and drop every open connection (as a stopped server would)."""
        self._run(self._cut())

    def restore(self) -> None:
        """Listen again on the same port."""
        self._run(self._listen())

    @property
    def is_cut(self) -> bool:
        return self._server is None

    def close(self) -> None:
        if self._thread.is_alive():
            self._run(self._cut())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        if not self._loop.is_running():
            self._loop.close()

    def __enter__(self) -> TcpRelay:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def _run(self, coroutine: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout=10)

    # --- the relay's own loop --------------------------------------------------------------------

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, HOST, self.port, reuse_address=True)

    async def _cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._pipes):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._pipes.clear()
        if server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), timeout=2)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        if self._server is None:  # cut while connecting
            writer.transport.abort()
            upstream_writer.transport.abort()
            return
        self._pipes |= {writer, upstream_writer}
        await asyncio.gather(
            self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer), return_exceptions=True
        )
        self._pipes -= {writer, upstream_writer}

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(CHUNK):
                writer.write(data)
                await writer.drain()
        finally:
            with contextlib.suppress(Exception):
                writer.close()


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not all(arg.isdigit() for arg in argv):
        print("usage: python -m devstack.relay LISTEN_PORT TARGET_PORT  (SIGUSR1 cuts, SIGUSR2 restores)")
        return 2
    relay = TcpRelay(int(argv[1]), port=int(argv[0])).start()
    signal.signal(signal.SIGUSR1, lambda *_: relay.cut())
    signal.signal(signal.SIGUSR2, lambda *_: relay.restore())
    print(f"relay 127.0.0.1:{relay.port} -> {relay.target_host}:{relay.target_port}", flush=True)
    try:
        while True:
            signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        relay.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
