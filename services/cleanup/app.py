"""Builds the cleanup worker from its settings: the ``cleanup`` queue consumer, the periodic orphan
sweep and the side port."""

from __future__ import annotations

from services.cleanup.handler import CleanupHandler
from services.cleanup.metrics import Metrics
from services.cleanup.second_look import SecondLook
from services.cleanup.settings import CleanupSettings
from services.cleanup.sweep import Sweeper
from shared.broker import declare_cleanup_queue
from shared.health import side_port
from shared.retry import RetryPolicy
from shared.s3 import ObjectStore
from shared.worker import Periodic, QueueWorker, WorkerProcess, fixed


def build(settings: CleanupSettings, *, metrics: Metrics | None = None) -> WorkerProcess:
    metrics = metrics or Metrics()
    store = ObjectStore.from_settings(settings)
    sweeper = Sweeper(store, grace_seconds=settings.sweep_grace, metrics=metrics)
    second_look = SecondLook(store, delay=settings.second_look_after, metrics=metrics)
    worker = QueueWorker(
        name="cleanup",
        amqp_url=settings.amqp_url.get_secret_value(),
        declare=declare_cleanup_queue,
        handler=fixed(CleanupHandler(store, metrics=metrics, second_look=second_look)),
        prefetch=settings.amqp_prefetch,
        retry=RetryPolicy(settings.retry_delay_initial, settings.retry_delay_max),
        stop_timeout=settings.stop_timeout,
        dependencies={"storage": store.ping},  # a message that fails while S3 is down waits for it
        registry=metrics.registry,
        periodic=[Periodic("cleanup-sweep", settings.sweep_interval, sweeper.run_counted)],
    )
    health = side_port(
        {"broker": worker.check, "s3": store.ping}, metrics.registry, host=settings.host, port=settings.port
    )
    return WorkerProcess(worker, health, closers=[second_look.close, store.close])
