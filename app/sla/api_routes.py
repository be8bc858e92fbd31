"""Machine API: a centre's queue system pushes attention events in batches (OAuth2 client credentials, scope
``atenciones:escribir``). Safe to retry: the same events sent again change nothing."""

from __future__ import annotations

import json
import uuid

from litestar import Controller, Request, post
from litestar.response import Response

from app.auth.actor import client_ip, get_actor
from app.auth.guards import requires_scope
from app.db import get_database
from app.errors import ValidationFailed
from app.sla import services
from app.sla.ingest import MAX_API_BATCH_BYTES, MAX_API_EVENTS
from app.sla.schemas import BatchResult, RowErrorOut


class AttentionApiController(Controller):
    path = "/api/v1/atenciones"
    tags = ["atenciones"]

    @post("/lotes", guards=[requires_scope("atenciones:escribir")], summary="Enviar un lote de eventos de atención",
          security=[{"BearerToken": []}], status_code=200, request_max_body_size=MAX_API_BATCH_BYTES)
    async def batch(self, request: Request) -> Response:
        """Body (JSON): ``{"centro": "<uuid, opcional: el del cliente>", "eventos": [...]}``, at most 10,000
        events. Each event has ``tipo`` = ``atencion`` | ``marcacion`` | ``encuesta`` | ``interrupcion`` and the
        columns of the CSV of its kind (timestamps ISO-8601 **with** offset). The answer lists each rejected
        event by its position (``linea``, 1-based), field and a Spanish reason; the valid events are stored.
        Re-sending the same events changes nothing (``sin_cambios``)."""
        try:
            body = json.loads(await request.body() or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ValidationFailed("El cuerpo debe ser JSON.", field="cuerpo") from None
        if not isinstance(body, dict) or not isinstance(body.get("eventos"), list):
            raise ValidationFailed("Envíe un objeto con la lista «eventos».", field="eventos")
        if len(body["eventos"]) > MAX_API_EVENTS:
            raise ValidationFailed(f"Un lote admite como máximo {MAX_API_EVENTS} eventos.", field="eventos")
        centre_id = None
        if body.get("centro"):
            try:
                centre_id = uuid.UUID(str(body["centro"]))
            except ValueError:
                raise ValidationFailed("«centro» debe ser un UUID.", field="centro") from None
        report = await services.receive_events(get_database(), get_actor(request), ip=client_ip(request),
                                               events=body["eventos"], centre_id=centre_id)
        result = BatchResult(lote=report.batch_id, recibidos=report.total, guardados=report.stored,
                             sin_cambios=report.unchanged, rechazados=report.rejected_lines,
                             errores=[RowErrorOut(**e.as_dict()) for e in report.errors])
        return Response(result.model_dump(mode="json"))


controllers = [AttentionApiController]
