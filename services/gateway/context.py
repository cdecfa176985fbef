"""What every resolver gets as ``info.context``: the caller and the app's components."""

from __future__ import annotations

from dataclasses import dataclass

from services.gateway.auth import Principal
from services.gateway.files import FileService
from services.gateway.metrics import Metrics
from services.gateway.uploads import UploadPolicy


@dataclass(frozen=True)
class RequestContext:
    principal: Principal
    files: FileService
    policy: UploadPolicy
    metrics: Metrics
    correlation_id: str
