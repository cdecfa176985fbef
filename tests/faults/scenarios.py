"""Load that a fault lands in the middle of: deletes at a steady rate, and uploads that go on."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from devstack.photos import jpeg_bytes
from tests.faults.client import Uploaded
from tests.faults.harness import FaultStack


@dataclass
class Deletes:
    """``deleteFile`` for each file, ``rate`` a second from ``threads`` clients; a failed call is
    tried again (after 1 s) until ``deadline``. ``started[id]`` is when its successful call began."""

    stack: FaultStack
    files: list[Uploaded]
    rate: float
    threads: int = 4
    deadline: float = 0.0
    started: dict[str, float] = field(default_factory=dict)
    answered: dict[str, float] = field(default_factory=dict)
    failures: Counter[str] = field(default_factory=Counter)
    done: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self) -> None:
        begin = time.monotonic()
        self.deadline = self.deadline or begin + 600

        def one(item: tuple[int, Uploaded]) -> None:
            n, file = item
            time.sleep(max(0.0, begin + n / self.rate - time.monotonic()))
            client = self.stack.client(f"deleter-{n % self.threads}")
            try:
                while True:
                    at = time.monotonic()
                    result = client.delete_file(file.id)
                    if result.ok:
                        with self.lock:
                            self.started[file.id] = at
                            self.answered[file.id] = time.monotonic()
                            self.done += 1
                        self.stack.ledger.add_delete(file)
                        return
                    with self.lock:
                        self.failures[result.kind] += 1
                    if time.monotonic() > self.deadline:
                        return
                    time.sleep(1.0)
            finally:
                client.close()

        with ThreadPoolExecutor(self.threads) as pool:
            list(pool.map(one, enumerate(self.files)))


def during_deletes(deletes: Deletes, fault: Callable[[], None], *, after: int) -> None:
    """Run ``deletes``; once ``after`` of them succeeded, run ``fault`` (which returns when the fault
    is over); wait for the deletes to end."""
    runner = threading.Thread(target=deletes.run, name="deletes")
    runner.start()
    try:
        limit = time.monotonic() + 300
        while deletes.done < after and runner.is_alive() and time.monotonic() < limit:
            time.sleep(0.05)
        fault()
    finally:
        runner.join(timeout=900)


@dataclass
class Uploads:
    """``clients`` uploaders, one file after another, until ``stop`` is set; each step of an upload
    is tried again after a failure (``Client.upload``) until ``stop`` + ``grace`` seconds."""

    stack: FaultStack
    clients: int = 2
    grace: float = 120.0
    stop: threading.Event = field(default_factory=threading.Event)
    failures: Counter[str] = field(default_factory=Counter)
    count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    give_up_at: float = float("inf")
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for n in range(self.clients):
            thread = threading.Thread(target=self._run, args=(n,), name=f"uploader-{n}")
            thread.start()
            self._threads.append(thread)

    def finish(self) -> None:
        self.give_up_at = time.monotonic() + self.grace
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=self.grace + 60)

    def _run(self, n: int) -> None:
        client = self.stack.client(f"uploader-{n}")
        try:
            i = 0
            while not self.stop.is_set():
                content = jpeg_bytes(320, 240, seed=50_000 + n * 10_000 + i)
                file, failed = client.upload(f"up {n}-{i}.jpg", "image/jpeg", content, deadline=lambda: self.give_up_at)
                with self.lock:
                    self.failures.update(failed)
                if file is not None:
                    self.stack.ledger.add_upload(file)
                    with self.lock:
                        self.count += 1
                i += 1
                time.sleep(0.3)
        finally:
            client.close()
