"""What may be uploaded: the pure checks behind getPreSignedPostPayload(s)."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.errors import LimitExceeded, ValidationFailed

MAX_BATCH_UPLOADS = 20
MIN_PART_SIZE = 5 * 1024**2  # S3: every part but the last
MAX_PART_SIZE = 5 * 1024**3  # S3: any part
MAX_PARTS = 1000  # S3 allows 10,000; 1,000 parts of up to 5 GiB already exceed S3's 5 TiB object limit
# type/subtype with RFC 6838 restricted-name characters; no parameters (the policy pins it exactly).
_MIME_RE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")


@dataclass(frozen=True)
class UploadRequest:
    """A checked upload: the name as given, the normalized type and the declared size."""

    name: str
    type: str
    size: int


@dataclass(frozen=True)
class UploadPolicy:
    min_size: int
    max_size: int
    allowed_types: tuple[str, ...] = ("*/*",)

    def allows_type(self, mime: str) -> bool:
        return any(fnmatch.fnmatchcase(mime, pattern.strip().lower()) for pattern in self.allowed_types)

    def problems(self, raw: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """Every field that is wrong, as ``{field: {code, message, data}}`` (empty when fine)."""
        out: dict[str, dict[str, Any]] = {}
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            out["name"] = _problem("REQUIRED", "name must not be empty.")
        mime = raw.get("type")
        if not isinstance(mime, str) or not _MIME_RE.match(mime.strip().lower()):
            out["type"] = _problem("INVALID", "type must be a MIME type such as image/jpeg.")
        elif not self.allows_type(mime.strip().lower()):
            out["type"] = _problem(
                "NOT_ALLOWED",
                f"Files of type {mime.strip()} may not be uploaded.",
                allowed=list(self.allowed_types),
            )
        size = raw.get("size")
        if isinstance(size, bool) or not isinstance(size, int):
            out["size"] = _problem("INVALID", "size must be a whole number of bytes.")
        elif size < self.min_size:
            out["size"] = _problem("TOO_SMALL", f"The file must be at least {self.min_size} bytes.", min=self.min_size)
        elif size > self.max_size:
            out["size"] = _problem("TOO_LARGE", f"The file must be at most {self.max_size} bytes.", max=self.max_size)
        return out

    def check(self, raw: Mapping[str, Any]) -> UploadRequest:
        problems = self.problems(raw)
        if problems:
            raise ValidationFailed(_summary(problems), data={"invalidFields": problems})
        return UploadRequest(name=str(raw["name"]).strip(), type=str(raw["type"]).strip().lower(), size=raw["size"])

    def check_many(self, raws: Sequence[Mapping[str, Any] | None]) -> list[UploadRequest]:
        if not raws:
            raise ValidationFailed("At least one file is required.", data={"invalidFields": {}})
        if len(raws) > MAX_BATCH_UPLOADS:
            raise LimitExceeded(
                f"At most {MAX_BATCH_UPLOADS} files can be requested at once.",
                data={"max": MAX_BATCH_UPLOADS, "given": len(raws)},
            )
        items: list[dict[str, Any]] = []
        for index, raw in enumerate(raws):
            problems = self.problems(raw or {})
            if problems:
                items.append({"index": index, "invalidFields": problems})
        if items:
            raise ValidationFailed(f"{len(items)} of {len(raws)} files are not valid.", data={"items": items})
        return [self.check(raw or {}) for raw in raws]


def check_part_count(number_of_parts: Any, size: int) -> int:
    """How many parts a multipart upload of ``size`` bytes may have: as many as leave every part
    but the last at least ``MIN_PART_SIZE`` bytes (and the last at least one), at most ``MAX_PARTS``,
    and enough that none is larger than ``MAX_PART_SIZE``."""
    most = max(1, min(MAX_PARTS, (size - 1) // MIN_PART_SIZE + 1))
    least = max(1, -(-size // MAX_PART_SIZE))
    if (
        isinstance(number_of_parts, bool)
        or not isinstance(number_of_parts, int)
        or not least <= number_of_parts <= most
    ):
        raise ValidationFailed(
            f"numberOfParts must be between {least} and {most} for {size} bytes "
            f"(parts of at least {MIN_PART_SIZE} and at most {MAX_PART_SIZE} bytes).",
            data={
                "invalidFields": {
                    "numberOfParts": _problem("OUT_OF_RANGE", f"Between {least} and {most}.", min=least, max=most)
                }
            },
        )
    return number_of_parts


def part_sizes(size: int, number_of_parts: int) -> list[int]:
    """The exact size of each part (signed into its URL, so S3 takes no other): every part but the
    last ``max(MIN_PART_SIZE, ceil(size / number_of_parts))`` bytes, the last the rest. For a count
    ``check_part_count`` allows, the last part has 1 to that many bytes and the sizes add up to ``size``."""
    if number_of_parts == 1:
        return [size]
    each = max(MIN_PART_SIZE, -(-size // number_of_parts))
    last = size - each * (number_of_parts - 1)
    if last < 1:
        raise ValueError(f"{size} bytes cannot be cut into {number_of_parts} parts")
    return [each] * (number_of_parts - 1) + [last]


def signed_part_size(size: int) -> int:
    """The part size of a multipart upload signed one call at a time (``signCreateMultiPartUpload``):
    ``max(MIN_PART_SIZE, ceil(size / MAX_PARTS))``, every part but the last; the last the rest. A
    client cuts the file by the same rule (Uppy's ``getChunkSize``), since each part's size is signed."""
    return max(MIN_PART_SIZE, -(-size // MAX_PARTS))


def signed_part_count(size: int) -> int:
    return max(1, -(-size // signed_part_size(size)))


def signed_part_length(size: int, part_number: Any) -> int:
    """The exact size of part ``part_number`` (1-based) under ``signed_part_size``; ValidationFailed
    for a number outside 1..``signed_part_count(size)``."""
    count = signed_part_count(size)
    if isinstance(part_number, bool) or not isinstance(part_number, int) or not 1 <= part_number <= count:
        raise ValidationFailed(
            f"partNumber must be between 1 and {count} for {size} bytes.",
            data={
                "invalidFields": {"partNumber": _problem("OUT_OF_RANGE", f"Between 1 and {count}.", min=1, max=count)}
            },
        )
    each = signed_part_size(size)
    return each if part_number < count else size - each * (count - 1)


def upload_info(file_id: str, key: str, request: UploadRequest) -> dict[str, Any]:
    """``FileUploadInfo``: ``name`` is the key, as Webiny does (its app sends it back to createFile)."""
    return {"id": file_id, "key": key, "name": key, "size": request.size, "type": request.type}


def upload_payload(file_id: str, key: str, request: UploadRequest, post: dict[str, Any]) -> dict[str, Any]:
    """The response item of getPreSignedPostPayload(s)."""
    return {"data": {"url": post["url"], "fields": post["fields"]}, "file": upload_info(file_id, key, request)}


def _problem(code: str, message: str, **data: Any) -> dict[str, Any]:
    return {"code": code, "message": message, "data": data or None}


def _summary(problems: Mapping[str, Mapping[str, Any]]) -> str:
    return " ".join(str(p["message"]) for p in problems.values())
