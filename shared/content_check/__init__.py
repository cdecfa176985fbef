"""Whether a file's first bytes match its declared type: one verdict for every service. Pure.

The catalog takes it on each upload (``object.created``) and rejects, then deletes, content that
contradicts its declared type; the resize worker takes the same verdict on the original it has
read before making a variant, so that no variant of a file being rejected ever exists (the
catalog's verdict can come after a client's first request for one). Both read the first
``HEAD_BYTES`` so that they agree: ``sniff`` holds the rules, ``signatures`` the binary
containers, ``markup`` SVG, HTML and XML.
"""

from __future__ import annotations

from shared.content_check.sniff import HEAD_BYTES, check, detect

__all__ = ["HEAD_BYTES", "check", "detect"]
