"""The opaque ``listFiles`` cursor: the (created_on, id) of the last record of a page. Pure."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from shared.errors import ValidationFailed

MAX_CURSOR_LENGTH = 512


def encode_cursor(created_on: datetime, file_id: str) -> str:
    raw = json.dumps([created_on.isoformat(), file_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The position a cursor stands for; anything the catalog did not hand out is VALIDATION_FAILED."""
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
        if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
            raise ValueError("not a cursor")
        created_on = datetime.fromisoformat(value[0])
        if created_on.tzinfo is None:
            raise ValueError("no time zone")
        return created_on, value[1]
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValidationFailed("The cursor is not valid; pass meta.cursor of the previous page.") from exc
