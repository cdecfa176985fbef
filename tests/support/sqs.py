"""An in-memory SQS queue with boto3's ``receive_message``/``delete_message`` calls and answers
(no SQS server is reachable here): received messages stay invisible until deleted or until the
test lets their visibility timeout pass."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/files-events"


@dataclass
class _Message:
    body: str
    message_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    receipt: str | None = None  # set while received and not yet visible again


class MemorySqs:
    """A queue with boto3's ``receive_message``/``delete_message`` calls and their answers."""

    def __init__(self, queue_url: str = QUEUE_URL) -> None:
        self.queue_url = queue_url
        self.messages: list[_Message] = []
        self.receive_calls: list[dict[str, Any]] = []
        self.fail_receives = 0
        self._arrived = threading.Condition()

    def send(self, body: str) -> None:
        with self._arrived:
            self.messages.append(_Message(body))
            self._arrived.notify_all()

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        self.receive_calls.append(kwargs)
        if kwargs.get("QueueUrl") != self.queue_url:
            raise _error("AWS.SimpleQueueService.NonExistentQueue", "ReceiveMessage")
        if self.fail_receives > 0:
            self.fail_receives -= 1
            raise _error("ServiceUnavailable", "ReceiveMessage")
        with self._arrived:  # a long poll waits up to WaitTimeSeconds for a message
            self._arrived.wait_for(
                lambda: any(m.receipt is None for m in self.messages), timeout=float(kwargs.get("WaitTimeSeconds", 0))
            )
        visible = [m for m in self.messages if m.receipt is None][: int(kwargs.get("MaxNumberOfMessages", 1))]
        for message in visible:
            message.receipt = uuid.uuid4().hex
        if not visible:
            return {}
        return {
            "Messages": [
                {"MessageId": m.message_id, "ReceiptHandle": m.receipt, "Body": m.body, "MD5OfBody": "x"}
                for m in visible
            ]
        }

    def delete_message(self, **kwargs: Any) -> dict[str, Any]:
        for message in self.messages:
            if message.receipt is not None and message.receipt == kwargs.get("ReceiptHandle"):
                self.messages.remove(message)
                return {}
        raise _error("ReceiptHandleIsInvalid", "DeleteMessage")

    def expire_visibility(self) -> None:
        """The visibility timeout passed: received, undeleted messages are shown again."""
        for message in self.messages:
            message.receipt = None


def _error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)
