"""Security headers on every response, in one place.

* Every response: ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: same-origin``.
* HTML pages: a Content-Security-Policy that allows scripts only from the app's own static files (htmx
  included; the templates carry no inline script or event handler), styles from the app's stylesheet (style
  attributes are allowed: they cannot run code), no plugins, no framing (``frame-ancestors 'none'``, and
  ``X-Frame-Options: DENY`` for older browsers), forms posting only to the app. The OpenAPI reference under
  ``/schema`` loads its viewer from its CDN and keeps only ``frame-ancestors 'none'``.
* Downloads (``Content-Disposition: attachment``): a type a browser would render or run (HTML, SVG, XML,
  JavaScript: what someone may have uploaded as a «sustento») is served as ``application/octet-stream``, and
  the response is sandboxed.
"""

from __future__ import annotations

from litestar.types import Message, Scope

PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
               "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
               "form-action 'self'; frame-ancestors 'none'")
DOCS_POLICY = "frame-ancestors 'none'"
DOWNLOAD_POLICY = "default-src 'none'; sandbox; frame-ancestors 'none'"
ACTIVE_TYPES = ("text/html", "application/xhtml", "image/svg", "text/xml", "application/xml", "text/javascript",
                "application/javascript", "application/ecmascript", "text/xsl", "multipart/")


async def add_security_headers(message: Message, scope: Scope) -> None:
    """Litestar ``before_send`` hook: every response the app sends, the router's own 404 and 405 included."""
    if message["type"] == "http.response.start":
        path = scope.get("path", "")
        message["headers"] = secured(list(message.get("headers") or []),
                                     docs=path == "/schema" or path.startswith("/schema/"))


def secured(headers: list[tuple[bytes, bytes]], *, docs: bool = False) -> list[tuple[bytes, bytes]]:
    present = {name.lower(): value for name, value in headers}
    content_type = present.get(b"content-type", b"").decode("latin-1").lower()
    attachment = present.get(b"content-disposition", b"").lower().startswith(b"attachment")
    out = [(n, v) for n, v in headers if not (attachment and n.lower() == b"content-type"
                                             and content_type.startswith(ACTIVE_TYPES))]
    if attachment and content_type.startswith(ACTIVE_TYPES):
        out.append((b"content-type", b"application/octet-stream"))
    extra = {b"x-content-type-options": b"nosniff", b"referrer-policy": b"same-origin"}
    if attachment:
        extra[b"content-security-policy"] = DOWNLOAD_POLICY.encode()
    elif content_type.startswith("text/html"):
        extra[b"content-security-policy"] = (DOCS_POLICY if docs else PAGE_POLICY).encode()
        extra[b"x-frame-options"] = b"DENY"
    for name, value in extra.items():
        if name not in present:
            out.append((name, value))
    return out
