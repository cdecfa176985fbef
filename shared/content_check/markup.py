"""What a text file is, from its first bytes: SVG, HTML or other XML. Pure.

The text is read as browsers and XML parsers read it: after a byte-order mark (UTF-8, UTF-16 in
either order; UTF-16 without one when it starts ``<?``), from its first non-blank character. An
SVG is recognised past an XML declaration, processing instructions (``<?xml-stylesheet?>``),
comments and a doctype (with an internal subset, as Illustrator writes), with its root element
prefixed or not (``<svg:svg>``) and possibly empty (``<svg/>``). HTML is recognised by its usual
first elements, anywhere a browser would start rendering it.
"""

from __future__ import annotations

import re

SVG = "image/svg+xml"
HTML = "text/html"
XML = "application/xml"

_HTML_START = re.compile(
    rb"<(!doctype\s+html|html|head|body|script|iframe|frameset|title|meta|style|a\s|div|table|p[\s>]|br|h1|img)",
    re.IGNORECASE,
)
_HTML_ANYWHERE = re.compile(rb"<(html|script|body)[\s>]", re.IGNORECASE)
_SVG_ROOT = re.compile(rb"<([\w.-]+:)?svg[\s>/]", re.IGNORECASE)
_PROLOG = re.compile(
    rb"^(<\?.*?\?>|<!--.*?-->|<!doctype[^>\[]*(\[.*?\])?\s*>|\s+)",
    re.IGNORECASE | re.DOTALL,
)
_UTF16 = ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"), (b"<\x00?\x00", None), (b"\x00<\x00?", None))


def text_start(head: bytes) -> bytes:
    """The head as UTF-8 (or the bytes as they are), without a byte-order mark and leading blanks."""
    for mark, encoding in _UTF16:
        if head.startswith(mark):
            codec = encoding or ("utf-16-le" if head[0] == 0x3C else "utf-16-be")
            body = head[len(mark) :] if encoding else head
            head = body[: len(body) // 2 * 2].decode(codec, errors="replace").encode("utf-8")
            break
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    return head.lstrip(b" \t\r\n\f")


def detect_markup(head: bytes) -> str | None:
    text = text_start(head)
    if not text.startswith(b"<"):
        return None
    root = _root(text)
    if _SVG_ROOT.match(root):
        return SVG
    if _HTML_START.match(text) or _HTML_START.match(root) or _HTML_ANYWHERE.search(text):
        return HTML
    if text.startswith(b"<?xml"):
        return XML
    return None


def _root(text: bytes) -> bytes:
    """The markup from its root element on (XML declaration, comments and doctype skipped)."""
    while True:
        match = _PROLOG.match(text)
        if match is None or not match.group(0):
            return text
        text = text[match.end() :]
