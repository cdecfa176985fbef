"""What every queue worker reports about its queue, on the service's own registry: messages held
back while a dependency is down, whether it is waiting now, and the depth of its dead-letter queue.

Alert on ``queue_dead_letters > 0`` (a message failed for reasons of its own, or a consumer died
while holding it: see docs/operations.md) and on ``queue_waiting_for_dependency == 1`` for longer
than an outage you accept.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class QueueMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.waiting = Gauge(
            "queue_waiting_for_dependency",
            "1 while the consumer of a queue has stopped taking messages because a dependency does not answer.",
            ["queue", "dependency"],
            registry=registry,
        )
        self.held = Counter(
            "queue_messages_held_total",
            "Messages put back unspent (their attempts not counted) because a dependency did not answer.",
            ["queue", "dependency"],
            registry=registry,
        )
        self.dead_lettered = Counter(
            "queue_messages_dead_lettered_total",
            "Messages this consumer rejected into the dead-letter queue.",
            ["queue"],
            registry=registry,
        )
        self.dead_letters = Gauge(
            "queue_dead_letters",
            "Messages waiting in the dead-letter queue (read from the broker every DEAD_LETTER_POLL seconds).",
            ["queue"],
            registry=registry,
        )
