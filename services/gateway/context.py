"""What every resolver gets as ``info.context``: the caller and the app's components."""

from __future__ import annotations

from dataclasses import dataclass

from services.gateway.auth import Principal
from services.gateway.budget import RequestBudget
from services.gateway.catalog.model import Catalog
from services.gateway.files import FileService
from services.gateway.metrics import Metrics
from services.gateway.preferences import PreferencesCache
from services.gateway.signed_uploads import SignedMultipart
from services.gateway.upload_service import UploadService


@dataclass(frozen=True)
class RequestContext:
    principal: Principal
    catalog: Catalog
    files: FileService
    uploads: UploadService
    preferences: PreferencesCache
    metrics: Metrics
    correlation_id: str
    budget: RequestBudget  # what this HTTP request may still cause (all its operations share it)
    signed: SignedMultipart  # multipart uploads signed one S3 call at a time
