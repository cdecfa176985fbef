"""The five services on the private infrastructure, and what a fault scenario counts at its end.

``FaultStack`` is one test's stack (fresh vhost, bucket and catalog database on the private broker,
store and database) with what a scenario needs to hurt it and to judge it:

- ``ledger``: what the clients did that must have an effect (files uploaded, files deleted);
- ``counts()``: the figures of docs/RELIABILITY.md, read from the real components:
  - *lost*: an uploaded file (its bytes in S3, 204) whose record is not ``ready``, or a deleted
    file whose record is still there: an event that never had its effect;
  - *left behind*: variant objects of a deleted file;
  - *stuck*: records still ``pending`` although their object is in S3;
  - *corrupt*: variant objects that do not decode whole, or are wider than asked;
  - *dead-lettered*: messages in the vhost's ``*.dead`` queues;
  - *restarted*: services whose process is not the one started (or is not alive, or not ready);
- ``settled()``: waits, bounded, until nothing is lost, left behind or stuck, then counts.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import aio_pika
import asyncpg
import httpx
from PIL import Image

from devstack.photos import jpeg_bytes
from devstack.private_infra import PrivateInfra
from devstack.stack import RunningStack, running_stack
from tests.faults.client import Client, Uploaded

# The safety nets (the catalog's expiry, the cleanup sweep) would hide a lost event: off, so that
# what is counted is the event path alone. Uploads are not capped per user (the clients share one).
STACK_ENV = {
    "EXPIRY_INTERVAL": "0",
    "SWEEP_INTERVAL": "0",
    "MAX_PENDING_UPLOADS_PER_USER": "100000",
}
WIDTH_RE = re.compile(r"/w(\d+)\.\w+$")


@dataclass
class Counts:
    lost: int = 0
    left_behind: int = 0
    stuck: int = 0
    corrupt: int = 0
    dead_lettered: int = 0
    restarted: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    def figures(self) -> dict[str, int]:
        return {
            "lost": self.lost,
            "left_behind": self.left_behind,
            "stuck": self.stuck,
            "corrupt": self.corrupt,
            "dead_lettered": self.dead_lettered,
            "restarted": self.restarted,
        }


@dataclass
class Ledger:
    """What the clients did that must have an effect; thread-safe."""

    uploaded: dict[str, Uploaded] = field(default_factory=dict)
    deleted: dict[str, Uploaded] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_upload(self, file: Uploaded) -> None:
        with self.lock:
            self.uploaded[file.id] = file

    def add_delete(self, file: Uploaded) -> None:
        with self.lock:
            self.deleted[file.id] = file

    def live(self) -> list[Uploaded]:
        with self.lock:
            return [f for i, f in self.uploaded.items() if i not in self.deleted]


class FaultStack:
    def __init__(self, running: RunningStack, private: PrivateInfra, database_url: str) -> None:
        self.running = running
        self.private = private
        self.database_url = database_url
        self.vhost = unquote(urlsplit(running.services["gateway"].env["AMQP_URL"]).path.lstrip("/"))
        self.ledger = Ledger()
        self.pids = self.current_pids()
        self.expected_restarts: set[str] = set()

    # -- clients ---------------------------------------------------------------------------------

    def client(self, sub: str = "faults") -> Client:
        return Client(self.running.gateway_url, self.running.download_url, sub=sub)

    @contextmanager
    def clients(self, count: int) -> Iterator[list[Client]]:
        made = [self.client(f"faults-{i}") for i in range(count)]
        try:
            yield made
        finally:
            for c in made:
                c.close()

    def seed(
        self, count: int, *, width: int | None = 100, threads: int = 6, size: tuple[int, int] = (480, 360)
    ) -> list[Uploaded]:
        """``count`` JPEGs uploaded as the admin app does, each with one variant of ``width`` made
        by the resize workers (through the download service); all ready before it returns."""
        deadline = time.monotonic() + 60 + count * 2.0

        def one(i: int) -> Uploaded:
            c = self.client(f"seed-{i % threads}")
            try:
                file, failures = c.upload(f"seed {i}.jpg", "image/jpeg", jpeg_bytes(*size, seed=i), deadline=deadline)
                assert file is not None, f"seed upload {i} failed: {failures}\n{self.running.logs()}"
                if width:
                    while not (got := c.download(file.key, width)).ok:
                        assert time.monotonic() < deadline, f"seed variant {i}: {got.kind}\n{self.running.logs()}"
                        time.sleep(0.5)
                self.ledger.add_upload(file)
                return file
            finally:
                c.close()

        with ThreadPoolExecutor(threads) as pool:
            files = list(pool.map(one, range(count)))
        self.wait_until(
            lambda: self.records_not_ready([f.key for f in files]) == [], 120, "the seeded files to be ready"
        )
        return files

    # -- the components ------------------------------------------------------------------------

    def current_pids(self) -> dict[str, int | None]:
        return {name: (p.proc.pid if p.alive() and p.proc else None) for name, p in self.running.services.items()}

    def kill(self, name: str) -> None:
        """SIGKILL one service (a crash), to start it again with ``restart``; it is not counted as
        restarted."""
        process = self.running.services[name]
        assert process.proc is not None
        os.kill(process.proc.pid, signal.SIGKILL)
        process.proc.wait(timeout=30)
        self.expected_restarts.add(name)

    def restart(self, name: str, timeout: float = 90.0) -> None:
        process = self.running.services[name]
        process.start()
        self.wait_until(process.ready, timeout, f"{name} to be ready again")
        self.pids[name] = process.proc.pid if process.proc else None

    def rss(self) -> dict[str, int]:
        """Resident memory (bytes) of every service process and of the resize kernel children."""
        sizes: dict[str, int] = {}
        for name, process in self.running.services.items():
            if process.proc is None:
                continue
            sizes[name] = _rss(process.proc.pid)
            for n, child in enumerate(_children(process.proc.pid)):
                sizes[f"{name} child {n + 1}"] = _rss(child)
        return sizes

    def children(self, name: str) -> list[int]:
        process = self.running.services[name]
        return _children(process.proc.pid) if process.proc else []

    # -- state ---------------------------------------------------------------------------------

    def _query(self, sql: str, *args: Any) -> list[Any]:
        async def run() -> list[Any]:
            connection = await asyncpg.connect(self.database_url, timeout=10)
            try:
                return list(await connection.fetch(sql, *args))
            finally:
                await connection.close()

        return asyncio.run(run())

    def records(self, keys: list[str]) -> dict[str, str]:
        return {r["key"]: r["status"] for r in self._query("SELECT key, status FROM files WHERE key = ANY($1)", keys)}

    def records_not_ready(self, keys: list[str]) -> list[str]:
        found = self.records(keys)
        return [k for k in keys if found.get(k) != "ready"]

    def pending_keys(self) -> list[str]:
        return [r["key"] for r in self._query("SELECT key FROM files WHERE status = 'pending'")]

    def object_keys(self, prefix: str = "") -> list[str]:
        keys: list[str] = []
        paginator = self.running.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.running.bucket, Prefix=prefix):
            keys.extend(o["Key"] for o in page.get("Contents", []))
        return keys

    def dead_letters(self) -> dict[str, int]:
        """Messages in the ``*.dead`` queues, less the resize requests that expired: their caller
        had stopped waiting (and was answered 503), which is by design (docs/decisions.md, Broker)."""
        depths = self.private.rabbit.queue_depths(self.vhost)
        dead = {name: n for name, n in depths.items() if name.endswith(".dead") and n}
        if dead.get("resize.requests.dead"):
            dead["resize.requests.dead"] -= asyncio.run(self._expired("resize.requests.dead"))
        return {name: n for name, n in dead.items() if n}

    async def _expired(self, queue: str) -> int:
        connection = await aio_pika.connect(self.running.services["gateway"].env["AMQP_URL"])
        try:
            channel = await connection.channel()
            q = await channel.get_queue(queue, ensure=False)
            held = []
            while (message := await q.get(no_ack=False, fail=False)) is not None:
                held.append(message)
            expired = 0
            for message in held:
                deaths: Any = (message.headers or {}).get("x-death") or []
                if deaths and str(deaths[0].get("reason")) in ("expired", "b'expired'"):
                    expired += 1
                await message.nack(requeue=True)
            return expired
        finally:
            await connection.close()

    def wait_until(self, check: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {timeout:.0f} s: {what}\n{self.running.logs()}")
            time.sleep(0.5)

    def ready(self, timeout: float = 60.0) -> None:
        """Every service answers ``/readyz`` again (bounded)."""
        for name, process in self.running.services.items():
            self.wait_until(process.ready, timeout, f"{name} to be ready")

    # -- the figures ---------------------------------------------------------------------------

    def counts(self) -> Counts:
        variants = self.object_keys("variants/")
        originals = {k for k in self.object_keys() if not k.startswith("variants/")}
        uploaded = dict(self.ledger.uploaded)
        deleted = dict(self.ledger.deleted)
        records = self.records([f.key for f in uploaded.values()])
        lost_uploads = [f.key for i, f in uploaded.items() if i not in deleted and records.get(f.key) != "ready"]
        lost_deletes = [f.key for f in deleted.values() if f.key in records]
        behind = [k for k in variants if k.split("/")[1] in deleted]
        pending = set(self.pending_keys())
        stuck = sorted(pending & originals)
        live_variants = [k for k in variants if k.split("/")[1] not in deleted]
        corrupt = [k for k in live_variants if not self._decodes(k)]
        restarted = []
        for name, process in self.running.services.items():
            pid = process.proc.pid if process.proc else None
            if not process.alive() or pid != self.pids[name] or not process.ready():
                restarted.append(name)
        return Counts(
            lost=len(lost_uploads) + len(lost_deletes),
            left_behind=len(behind),
            stuck=len(stuck),
            corrupt=len(corrupt),
            dead_lettered=sum(self.dead_letters().values()),
            restarted=len(restarted),
            details={
                "lost_uploads": lost_uploads[:10],
                "lost_deletes": lost_deletes[:10],
                "left_behind": behind[:10],
                "stuck": stuck[:10],
                "corrupt": corrupt[:10],
                "dead_letters": self.dead_letters(),
                "restarted": restarted,
                "variants_checked": len(live_variants),
                "uploaded": len(uploaded),
                "deleted": len(deleted),
            },
        )

    def _decodes(self, key: str) -> bool:
        body = self.running.s3.get_object(Bucket=self.running.bucket, Key=key)["Body"].read()
        try:
            with Image.open(io.BytesIO(body)) as img:
                img.load()
                match = WIDTH_RE.search(key)
                return match is None or img.width <= int(match.group(1))
        except Exception:  # noqa: BLE001 - any failure to decode is a corrupt variant
            return False

    def settled(self, timeout: float = 180.0) -> Counts:
        """Wait (bounded) until nothing is lost, left behind or stuck; then the counts."""
        deadline = time.monotonic() + timeout
        while True:
            counts = self.counts()
            if (counts.lost == counts.left_behind == counts.stuck == 0) or time.monotonic() > deadline:
                return counts
            time.sleep(1.0)


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.extend(int(p) for p in (task / "children").read_text().split())
        except OSError:
            continue
    return sorted(found)


@contextmanager
def fault_stack(private: PrivateInfra, log_dir: Path, extra_env: dict[str, str] | None = None) -> Iterator[FaultStack]:
    private.ensure_running()
    database_url = private.new_database()
    with running_stack(
        private.infra, log_dir, {**STACK_ENV, **(extra_env or {})}, database_url=database_url
    ) as running:
        yield FaultStack(running, private, database_url)


def readyz(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]
