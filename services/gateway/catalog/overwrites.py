"""A second write to a key the catalog has settled: what counts as one, and why it is refused. Pure.

A pre-signed POST form stays valid for its whole lifetime, and S3 policies cannot say "only once":
whoever holds the form can post it again after the file was registered (swapping the bytes behind
a key whose original is served as ``immutable`` and whose variants and caches keep the old
picture), or after the file was deleted (putting bytes back under a key that is gone). Keys are
never reused, so the catalog refuses both when their ``object.created`` arrives:

- bytes under a key whose record is ready with other bytes (another size or ETag) are a swap:
  the record is marked rejected with ``REPLACED_REASON`` and the object deleted; that deletion's
  ``object.removed`` purges the variants (cleanup worker) and the caches (download replicas)
  through the normal removal path;
- bytes under a key remembered as deleted are deleted.

The same bytes posted again (same size and ETag) change nothing. Only facts read from S3 are
compared (the record's size and ETag came from a HEAD), never an event's own fields, which
anyone who can publish an event could choose.
"""

from __future__ import annotations

from services.gateway.catalog.model import FileRecord
from shared.s3 import ObjectInfo

REPLACED_REASON = (
    "The file's content was replaced after it was uploaded (its upload form was used again), "
    "so the file was removed; upload the new content as a new file."
)


def replaced(record: FileRecord, info: ObjectInfo) -> bool:
    """Whether the object ``info`` is other bytes than the ones ``record`` was confirmed with."""
    if record.status != "ready":
        return False
    if record.size != info.size:
        return True
    return bool(record.etag and info.etag and record.etag != info.etag)
