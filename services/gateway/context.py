"""What every resolver gets as ``info.context``: the caller and the app's components."""

from __future__ import annotations

from dataclasses import dataclass

from services.gateway.auth import Principal
from services.gateway.catalog.model import Catalog
from services.gateway.file_settings import SettingsCache
from services.gateway.files import FileService
from services.gateway.metrics import Metrics
from services.gateway.upload_service import UploadService


@dataclass(frozen=True)
class RequestContext:
    principal: Principal
    catalog: Catalog
    files: FileService
    uploads: UploadService
    settings: SettingsCache
    metrics: Metrics
    correlation_id: str
