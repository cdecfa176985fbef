"""No variant of a file the catalog is rejecting: the catalog's own verdict, taken on the original.

The catalog checks an upload's first bytes against its declared type when the ``object.created``
event reaches it, and deletes content that contradicts it. Until then the original is in S3 with
its verdict pending, and a client may already ask for a variant. One made then would be served
(and cached by browsers and CDNs for a year) as a picture of content that was never accepted, and
would stay until the cleanup worker follows the original's removal. The worker has read the whole
original anyway, so it takes the same verdict (``shared.content_check``, on the same first bytes)
against the type S3 stores, which is the declared type the upload policy pinned, and refuses
what the catalog rejects, in the window and after. Pure.

The refusal is ``NOT_AN_IMAGE`` (422) with the catalog's reason as its message, not a code of its
own: mis-declared content the decoders cannot read (text or HTML as image/png, a GIF as
image/png) was already ``NOT_AN_IMAGE``, and one verdict gets one code, whether or not the bytes
would happen to decode (a PNG declared as image/jpeg).
"""

from __future__ import annotations

from shared.content_check import HEAD_BYTES, check
from shared.errors import NotAnImage


def refuse_rejected_content(declared_type: str, data: bytes) -> None:
    """Raise ``NotAnImage`` with the catalog's reason when the catalog rejects ``data`` under
    ``declared_type``; return otherwise."""
    reason = check(declared_type, data[:HEAD_BYTES])
    if reason is not None:
        raise NotAnImage(reason)
