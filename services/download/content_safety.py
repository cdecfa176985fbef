"""Which stored files may render in the browser, and with which protective headers: pure.

Downloads are public and served from the service's own origin, so a file that a browser would
run as a document (HTML, XHTML, XML with scripts, JavaScript) is sent as an attachment and
sandboxed; SVG stays inline (it is shown in ``<img>`` tags) but is sandboxed when opened directly.
A type a browser cannot parse counts as script-capable: browsers sniff such responses, and
sniffing finds HTML. Only the other types may be redirected to the S3 origin (``may_redirect``),
which can add neither the attachment nor the policy.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from shared.messages import media_type

SVG_TYPE = "image/svg+xml"
SVG_POLICY = "sandbox; default-src 'none'; style-src 'unsafe-inline'"
DOCUMENT_POLICY = "sandbox; default-src 'none'"

_SCRIPT_CAPABLE = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "text/xml",
        "application/xml",
        "text/xsl",
        "application/xslt+xml",
        "application/javascript",
        "application/x-javascript",
        "application/ecmascript",
        "text/javascript",
        "text/ecmascript",
        "text/jscript",
        "application/x-shockwave-flash",
        "text/vnd.wap.wml",
        "multipart/x-mixed-replace",  # Firefox renders each HTML part as a document
    }
)
_TOKEN = r"[!#$%&'*+.^_`|~0-9a-z-]+"  # RFC 9110 5.6.2, lowercased by media_type
_MEDIA_TYPE = re.compile(f"{_TOKEN}/{_TOKEN}")


def is_well_formed(content_type: str) -> bool:
    """``type/subtype`` with optional parameters, and no list: a browser reads a Content-Type with
    commas as several values and takes the last valid one (``image/png, text/html`` is HTML)."""
    return "," not in content_type and _MEDIA_TYPE.fullmatch(media_type(content_type)) is not None


def is_script_capable(content_type: str) -> bool:
    if not is_well_formed(content_type):
        return True
    kind = media_type(content_type)
    if kind == SVG_TYPE:
        return False
    return kind in _SCRIPT_CAPABLE or kind.endswith("+xml")


def may_redirect(content_type: str) -> bool:
    """Whether the S3 origin may serve it inline as it is: not script-capable, not SVG."""
    return media_type(content_type) != SVG_TYPE and not is_script_capable(content_type)


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback name and the exact UTF-8 name (RFC 6266 / 8187)."""
    fallback = "".join(ch if 0x20 <= ord(ch) < 0x7F and ch not in '"\\%' else "_" for ch in filename)
    fallback = fallback.strip() or "file"
    exact = quote(filename, safe="")
    if exact == fallback:
        return f'attachment; filename="{fallback}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{exact}"


def safety_headers(content_type: str, key: str) -> dict[str, str]:
    """Headers that keep a stored file from running in our origin (empty for ordinary files)."""
    if is_script_capable(content_type):
        filename = key.rstrip("/").rsplit("/", 1)[-1]
        return {
            "Content-Disposition": content_disposition(filename),
            "Content-Security-Policy": DOCUMENT_POLICY,
        }
    if media_type(content_type) == SVG_TYPE:
        return {"Content-Security-Policy": SVG_POLICY}
    return {}
