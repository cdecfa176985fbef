"""Source ``seaweedfs-meta``: follows the filer's durable metadata log with ``weed filer.meta.tail``.

For each record: normalize, publish with confirms, and only then move the checkpoint. The tail
process is started again (with backoff) whenever it ends; each start replays the log from the
checkpoint, so nothing that happened while the tail (or the whole bridge) was down is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from services.bridge.checkpoint import NS_PER_SECOND, CheckpointFile, initial_position, time_ago_arg
from services.bridge.metalog import Item, Malformed, MetaLogParser, Noise, Record
from services.bridge.metrics import Metrics
from services.bridge.normalize import BUCKETS_ROOT, meta_record_ts_ns, normalize_meta_record
from services.bridge.publisher import Publisher, publish_until_confirmed
from services.bridge.recent import RecentRecords
from shared.errors import Unavailable
from shared.events import MalformedEvent, ObjectEvent
from shared.logging import bind_correlation_id, clear_context, get_logger, new_correlation_id
from shared.outage import dependency_of
from shared.retry import Backoff, RetryPolicy, Stopped

log = get_logger(__name__)

READ_SIZE = 64 * 1024
SOURCE = "seaweedfs-meta"


@dataclass(frozen=True)
class TailConfig:
    weed_binary: str
    filer: str
    bucket: str
    lookback_seconds: float = 0.0
    margin_seconds: float = 5.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    stable_after: float = 10.0  # a run this long resets the backoff
    checkpoint_every: float = 1.0  # seconds between writes for records that published nothing
    stop_timeout: float = 5.0

    @property
    def backoff(self) -> RetryPolicy:
        return RetryPolicy(self.backoff_initial, self.backoff_max)

    def command(self, time_ago: str) -> list[str]:
        return [
            self.weed_binary,
            "filer.meta.tail",
            f"-filer={self.filer}",
            f"-pathPrefix={BUCKETS_ROOT}/{self.bucket}",
            f"-timeAgo={time_ago}",
        ]


class MetaTailSource:
    def __init__(
        self,
        config: TailConfig,
        *,
        publisher: Publisher,
        checkpoint: CheckpointFile,
        metrics: Metrics,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._config = config
        self._publisher = publisher
        self._checkpoint = checkpoint
        self._metrics = metrics
        self._clock_ns = clock_ns
        self._position = 0
        self._saved_position = 0
        self._saved_at = 0.0
        self._process: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        # Records a little out of timestamp order are not skipped (``services.bridge.recent``).
        self._window_ns = int(config.margin_seconds * NS_PER_SECOND)
        self._recent = RecentRecords(self._window_ns)

    @property
    def position(self) -> int:
        return self._position

    async def start(self) -> None:
        saved = await asyncio.to_thread(self._checkpoint.load)
        recent = await asyncio.to_thread(self._checkpoint.load_recent)
        self._position = initial_position(
            saved, now_ns=self._clock_ns(), lookback_seconds=self._config.lookback_seconds
        )
        if recent is not None:
            self._recent = RecentRecords.restored(self._window_ns, recent)
        else:  # no checkpoint, or one that does not list its recent records: all before it is done
            self._recent = RecentRecords(self._window_ns, handled_until=self._position)
        if saved is None:
            await self._save()  # a crash before the first record still resumes from this start
        self._saved_position = self._position
        self._metrics.checkpoint.set(self._position / 1e9)
        log.info("resuming metadata log", checkpoint_ns=self._position, resumed=saved is not None)
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="meta-tail")

    async def stop(self) -> None:
        self._stopping.set()
        await self._terminate()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._position != self._saved_position:
            await self._save()

    async def check(self) -> None:
        """Readiness: the tail process is running."""
        if self._task is None or self._task.done():
            raise Unavailable("the metadata-log source is not running")
        process = self._process
        if process is None or process.returncode is not None:
            raise Unavailable("the metadata-log tail is not running")

    # --- the tail process -----------------------------------------------------------------

    async def _run(self) -> None:
        backoff = Backoff(self._config.backoff, self._stopping)
        first = True
        while not self._stopping.is_set():
            if not first:
                self._metrics.tail_restarts.inc()
            first = False
            started = time.monotonic()
            try:
                await self._run_once()
            except Stopped:
                return  # stopped while a publication was unconfirmed: its record is read again next time
            except Exception:  # whatever it was, the tail starts again from the checkpoint
                log.exception("the metadata-log tail failed")
            if self._stopping.is_set():
                return
            if time.monotonic() - started >= self._config.stable_after:
                backoff.reset()
            log.warning("metadata-log tail ended; starting it again", in_seconds=round(backoff.delay, 2))
            await backoff.wait()

    async def _run_once(self) -> None:
        time_ago = time_ago_arg(self._position, now_ns=self._clock_ns(), margin_seconds=self._config.margin_seconds)
        command = self._config.command(time_ago)
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        self._process = process
        log.info("metadata-log tail started", pid=process.pid, time_ago=time_ago, filer=self._config.filer)
        stderr_task = asyncio.create_task(self._drain_stderr(process))
        try:
            assert process.stdout is not None
            parser = MetaLogParser()
            while chunk := await process.stdout.read(READ_SIZE):
                for item in parser.feed(chunk):
                    await self._handle(item)
            for item in parser.finish():
                await self._handle(item)
            code = await process.wait()
            if self._stopping.is_set():
                log.info("metadata-log tail stopped", code=code)
            else:
                log.warning("metadata-log tail exited", code=code)
        finally:
            await self._terminate()
            stderr_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stderr_task

    async def _drain_stderr(self, process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        while line := await process.stderr.readline():
            text = line.decode("utf-8", "replace").rstrip()
            if text:
                log.warning("metadata-log tail says", line=text[:500])

    async def _terminate(self) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=self._config.stop_timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    # --- records ----------------------------------------------------------------------------

    async def _handle(self, item: Item) -> None:
        if isinstance(item, Noise):
            log.warning("metadata-log tail says", line=item.line[:500])
            return
        if isinstance(item, Malformed):
            self._metrics.records.labels(source=SOURCE, outcome="malformed").inc()
            log.warning("skipping malformed metadata-log output", reason=item.reason, text=item.text[:300])
            await self._publisher.dead_letter(item.text.encode(), reason=item.reason, source=SOURCE)
            return
        try:
            await self._handle_record(item)
        except (asyncio.CancelledError, Stopped, OSError):
            raise  # stopping, or the checkpoint could not be written: the record is handled again
        except Exception as exc:  # a record that breaks the bridge must not stop the log forever
            if dependency_of(exc) is not None:
                raise  # the broker, not the record: the tail starts again from the checkpoint
            self._metrics.records.labels(source=SOURCE, outcome="malformed").inc()
            log.exception("could not handle a metadata-log record; dead-lettering it")
            await self._publisher.dead_letter(_dump(item.data), reason=repr(exc), source=SOURCE)
            with contextlib.suppress(MalformedEvent):
                self._position = max(self._position, meta_record_ts_ns(item.data))

    async def _handle_record(self, item: Record) -> None:
        try:
            ts_ns = meta_record_ts_ns(item.data)
        except MalformedEvent as exc:
            self._metrics.records.labels(source=SOURCE, outcome="malformed").inc()
            log.warning("skipping metadata-log record without a timestamp", error=str(exc))
            await self._publisher.dead_letter(_dump(item.data), reason=str(exc), source=SOURCE)
            return
        identity = RecentRecords.identity(_dump(item.data))
        if not self._recent.is_new(ts_ns, identity, self._position):
            self._metrics.records.labels(source=SOURCE, outcome="replayed").inc()
            return
        try:
            events = normalize_meta_record(item.data, self._config.bucket)
        except MalformedEvent as exc:
            self._metrics.records.labels(source=SOURCE, outcome="malformed").inc()
            log.warning("skipping malformed metadata-log record", error=str(exc), ts_ns=ts_ns)
            await self._publisher.dead_letter(_dump(item.data), reason=str(exc), source=SOURCE)
            events = []
        else:
            outcome = "published" if events else "dropped"
            if events:
                await self._publish_until_confirmed(events, ts_ns)
            self._metrics.records.labels(source=SOURCE, outcome=outcome).inc()
        self._recent.remember(ts_ns, identity)
        if ts_ns > self._position:  # a late record leaves the position where it is
            self._position = ts_ns
            self._metrics.checkpoint.set(ts_ns / 1e9)
        if events or time.monotonic() - self._saved_at >= self._config.checkpoint_every:
            await self._save()

    async def _publish_until_confirmed(self, events: list[ObjectEvent], ts_ns: int) -> None:
        """Retry (with backoff) until the broker confirms: the log is not read further meanwhile.
        Raises ``Stopped`` when the source stops first."""
        correlation_id = bind_correlation_id(new_correlation_id())
        try:
            await publish_until_confirmed(
                self._publisher,
                events,
                correlation_id=correlation_id,
                backoff=self._config.backoff,
                stop=self._stopping,
                ts_ns=ts_ns,
            )
        finally:
            clear_context()

    async def _save(self) -> None:
        position = self._position
        await asyncio.to_thread(self._checkpoint.save, position, self._recent.entries())
        self._saved_position = position
        self._saved_at = time.monotonic()


def _dump(data: object) -> bytes:
    return json.dumps(data, separators=(",", ":"), default=str).encode()
