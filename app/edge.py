"""The edge guard: input PostgreSQL, the parsers or the templates cannot take is refused here, with a 4xx.

One place, before sessions, CSRF and routes look at a request:

* size: the body is read through Litestar's request (``request_max_body_size`` of the route: an app-wide
  default for forms and JSON, larger only on the routes that take uploads), so an oversized body is refused
  with 413 from its ``Content-Length`` before it is read, or as soon as the bytes streamed exceed the limit;
* text: no NUL byte and only valid UTF-8 in the path, the query string, every form field (URL-encoded or
  multipart, file names included; file contents are the route's business), and every JSON string (a lone
  surrogate such as ``\\ud800`` is not text either);
* shape: JSON nested deeper than :data:`MAX_JSON_DEPTH` and any single text field longer than
  :data:`MAX_FIELD_CHARS` are refused;
* paging: :data:`PageNumber` and :data:`PageSize` are the bounded query parameters every listing declares.

The body read here is handed on to the routes as it was received (it is read once).
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any
from urllib.parse import unquote_to_bytes

from litestar import Request
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.params import QueryParameter
from litestar.types import ASGIApp, Receive, Scope, Send
from multipart import MultipartSegment, ParserError, PushMultipartParser

from app.errors import ValidationFailed

MAX_JSON_DEPTH = 32
MAX_FIELD_CHARS = 20_000
MAX_PAGE_NUMBER = 100_000
MAX_PAGE_SIZE = 200
KIB = 1024
MIB = 1024 * KIB
# Bodies: the app's limit is an upload's (a 5 MB document plus the form around it); forms and JSON get far less;
# the few routes that take larger files (a month of attentions, a PDF signed elsewhere) declare their own.
DEFAULT_BODY_LIMIT = 256 * KIB
UPLOAD_BODY_LIMIT = 5 * MIB + 64 * KIB
OFFLOAD_CHECK_ABOVE = 256 * KIB

PageNumber = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_NUMBER, description="Número de página (desde 1).")]
PageSize = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE, description="Elementos por página.")]


class BadInput(ValidationFailed):
    status_code = 400
    code = "entrada_invalida"
    title = "Solicitud no válida"


def _where(field: str | None) -> str:
    return f" en el campo «{field}»" if field else ""


def check_text(value: str, field: str | None) -> None:
    if "\x00" in value:
        raise BadInput(f"El texto enviado{_where(field)} contiene un carácter nulo, que no está permitido. "
                       "Quítelo e intente de nuevo.", field=field, code="caracter_nulo")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(f"El texto enviado{_where(field)} contiene caracteres no válidos (UTF-8 incompleto).",
                       field=field, code="texto_no_utf8") from None
    if len(value) > MAX_FIELD_CHARS:
        raise ValidationFailed(f"El texto{_where(field)} es demasiado largo: {len(value):,} caracteres; el máximo es "
                               f"{MAX_FIELD_CHARS:,}.".replace(",", " "), field=field, code="texto_muy_largo")


def decode_text(raw: bytes, field: str | None) -> str:
    try:
        value = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput(f"El texto enviado{_where(field)} no es UTF-8 válido. Envíe el formulario desde la página "
                       "o codifique el texto en UTF-8.", field=field, code="texto_no_utf8") from None
    check_text(value, field)
    return value


def check_urlencoded(raw: bytes) -> None:
    """``a=1&b=2`` (a query string or a URL-encoded form): every name and value, percent-decoded."""
    for pair in raw.split(b"&"):
        if not pair:
            continue
        name, _sep, value = pair.partition(b"=")
        name_text = decode_text(unquote_to_bytes(name.replace(b"+", b" ")), None)
        decode_text(unquote_to_bytes(value.replace(b"+", b" ")), name_text[:60])


def check_multipart(body: bytes, boundary: str) -> None:
    segment: MultipartSegment | None = None
    data = bytearray()
    try:
        with PushMultipartParser(boundary) as parser:
            for part in parser.parse(body):
                if isinstance(part, MultipartSegment):
                    segment, data = part, bytearray()
                    if segment.filename is not None:
                        check_text(segment.filename, segment.name)
                elif part:
                    if segment is not None and segment.filename is None:
                        data.extend(part)
                elif segment is not None and segment.filename is None:
                    decode_text(bytes(data), segment.name)
    except ParserError:
        raise BadInput("El formulario enviado está mal formado (multipart/form-data).",
                       code="formulario_mal_formado") from None


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]")
_INNERMOST = re.compile(rb"\[\]|\{\}")


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """Whether the JSON nests deeper than ``limit``, without recursion (strings removed, then one level of
    innermost brackets peeled per pass; at most ``limit + 1`` passes)."""
    brackets = _NOT_BRACKET.sub(b"", _JSON_STRING.sub(b"", body))
    for _level in range(limit):
        if not brackets:
            return False
        peeled = _INNERMOST.sub(b"", brackets)
        if peeled == brackets:  # unbalanced: the JSON parser refuses it with its own 400
            return False
        brackets = peeled
    return bool(brackets)


def _check_json_value(value: Any, field: str | None) -> None:
    if isinstance(value, str):
        check_text(value, field)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, key[:60])
            _check_json_value(item, key[:60])
    elif isinstance(value, list):
        for item in value:
            _check_json_value(item, field)


def check_json(body: bytes) -> None:
    if json_depth_exceeds(body, MAX_JSON_DEPTH):
        raise BadInput(f"El JSON enviado anida más de {MAX_JSON_DEPTH} niveles.", code="json_muy_profundo")
    try:
        document = json.loads(body)
    except UnicodeDecodeError:
        raise BadInput("El JSON enviado no es UTF-8 válido.", code="texto_no_utf8") from None
    except (ValueError, RecursionError):
        return  # not JSON: Litestar's own decoder answers 400 with its message
    _check_json_value(document, None)


def check_target(scope: Scope) -> None:
    raw_path = scope.get("raw_path")
    path_bytes = unquote_to_bytes(raw_path) if raw_path else scope["path"].encode("utf-8", "surrogateescape")
    try:
        path = path_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput("La dirección solicitada no es UTF-8 válido.", code="texto_no_utf8") from None
    if "\x00" in path or "\x00" in scope["path"]:
        raise BadInput("La dirección solicitada contiene un carácter nulo, que no está permitido.",
                       code="caracter_nulo")
    check_urlencoded(scope.get("query_string") or b"")


def body_limit(scope: Scope, content_type: str) -> int | None:
    """Forms and JSON get :data:`DEFAULT_BODY_LIMIT` unless their route declares its own
    ``request_max_body_size``; multipart bodies (files) get the route's or the app's (Litestar enforces it)."""
    if content_type == "multipart/form-data":
        return None
    own = getattr(scope.get("route_handler"), "request_max_body_size", None)
    return own if isinstance(own, int) else DEFAULT_BODY_LIMIT


class EdgeGuardMiddleware:
    """Refuses, before anything else reads it, a request whose text or size the rest could not take."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        check_target(scope)
        if scope["method"] in ("POST", "PUT", "PATCH", "DELETE"):
            request: Request = Request(scope, receive)
            content_type, options = request.content_type
            limit = body_limit(scope, content_type)
            if limit is not None and (request.content_length or 0) > limit:
                raise RequestEntityTooLarge  # refused from the announced length, before reading
            body = await request.body()  # the route's request_max_body_size applies while streaming (413)
            if limit is not None and len(body) > limit:
                raise RequestEntityTooLarge
            if body:
                check = None
                if content_type == "application/x-www-form-urlencoded":
                    check = (check_urlencoded, body)
                elif content_type == "multipart/form-data" and options.get("boundary"):
                    check = (check_multipart, body, options["boundary"])
                elif content_type.endswith("json"):
                    check = (check_json, body)
                if check and len(body) > OFFLOAD_CHECK_ABOVE:  # a big upload is scanned in the pool
                    from app import offload

                    await offload.run(*check)
                elif check:
                    check[0](*check[1:])
            receive = _replay(body, receive)
        await self.app(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the already read body to whoever streams it next, then waits as the server's."""
    sent = False

    async def replay() -> Any:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
