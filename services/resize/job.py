"""One resize job as a kernel process runs it: the cheap structural checks, then the kernel.

``JobSpec`` is what crosses to the process in a frame header (the picture's bytes are the
payload); ``run_job`` is the default kernel of ``services.resize.child``. A test may start the
pool with another function of the same shape (``KernelPool(kernel="module:function")``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from services.resize.kernel import Resized, make_variant
from services.resize.scans import check_scans


@dataclass(frozen=True)
class JobSpec:
    width: int
    format: str | None
    max_pixels: int
    quality: int
    max_scans: int

    def to_header(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_header(cls, header: dict[str, Any]) -> JobSpec:
        fmt = header.get("format")
        return cls(
            width=int(header["width"]),
            format=str(fmt) if fmt is not None else None,
            max_pixels=int(header["max_pixels"]),
            quality=int(header["quality"]),
            max_scans=int(header["max_scans"]),
        )


def run_job(spec: JobSpec, data: bytes) -> Resized:
    """Refuse a JPEG of absurdly many scans before decoding it, then resize."""
    check_scans(data, spec.max_scans)
    return make_variant(data, spec.width, spec.format, max_pixels=spec.max_pixels, quality=spec.quality)
