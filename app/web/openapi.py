"""Keeping the OpenAPI document true to the answers the app really gives.

* Every operation documents the RFC 9457 problems it can answer with (``application/problem+json``, shaped by
  :func:`app.web.responses.problem`): the edge guard's 400 and 413, authentication's 401, the guards' 403, the
  domain's 404, 409 and 422, the throttle's 429 and the pool's 503. A route's own ``responses`` win.
* A time of day (``datetime.time``, e.g. a centre's ``opens_at``) is a ``"HH:MM:SS"`` string: Litestar would
  document it as an ISO 8601 duration.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from typing import Any

from litestar import Litestar
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.plugins import OpenAPISchemaPlugin
from litestar.routes import HTTPRoute

from app.web.responses import PROBLEM_JSON, STATUS_TITLES


@dataclass
class ProblemError:
    mensaje: str
    campo: str | None = None
    linea: int | None = None


@dataclass
class Problem:
    """An RFC 9457 problem: ``codigo`` names the rule, ``errores`` lists the fields (and lines) refused."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    codigo: str | None = None
    errores: list[dict[str, Any]] | None = None


PROBLEM_STATUSES = (400, 401, 403, 404, 409, 413, 415, 422, 429, 503)
DESCRIPTIONS = {**STATUS_TITLES, 415: "Tipo de contenido no admitido", 503: "Servidor ocupado"}


def problem_responses() -> dict[int, ResponseSpec]:
    return {status: ResponseSpec(data_container=Problem, media_type=PROBLEM_JSON, generate_examples=False,
                                 description=DESCRIPTIONS[status])
            for status in PROBLEM_STATUSES}


def document_problems(app: Litestar) -> None:
    """Add the problem responses to every documented HTTP operation (before the document is first built)."""
    problems = problem_responses()
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if handler.resolve_include_in_schema():
                handler.responses = {**problems, **(handler.responses or {})}


class TimeOfDaySchema(OpenAPISchemaPlugin):
    @staticmethod
    def is_plugin_supported_type(value: Any) -> bool:
        return value is time

    def to_openapi_schema(self, field_definition: Any, schema_creator: Any) -> Schema:  # noqa: ANN401
        return Schema(type=OpenAPIType.STRING, pattern=r"^\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$",
                      description="Hora local (America/Lima), HH:MM:SS", examples=["08:00:00"])
