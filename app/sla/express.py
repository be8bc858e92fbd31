"""The MAC Express board: a point's attentions of a month and their own indicators (registration → start,
time in the entity's digital service, total time), per entity. MAC Express points have no queue, so they are
shown apart from the queue-based centres' ANS dashboard."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select

from app.auth.actor import Actor
from app.db import ROLE_CLIENTE, Database
from app.errors import Forbidden, NotFound, ValidationFailed
from app.sla.calendar import month_bounds
from app.sla.models import ExpressAttention
from app.sla.rollups import lima_start
from app.sla.sources import mac_express
from app.sla.sources.common import SourceResult
from app.tenants.models import Centre, Entity

STATE_LABELS = {"REGISTRADA": "Registrada", "EN_SELECCION": "En selección", "EN_SERVICIO": "En servicio"}


@dataclass
class ExpressRow:
    entity: Entity | None
    attentions: int
    stats: dict[str, mac_express.Stat]


@dataclass
class ExpressBoard:
    centre: Centre
    month: date
    rows: list[ExpressRow]
    states: dict[str, int]
    total: int


async def express_centres(db: Database, actor: Actor, *, ip: str | None) -> list[Centre]:
    from app.sla.services import centres_for

    async with db.transaction(actor.context(ip)) as s:
        return [c for c in await centres_for(s, actor) if c.channel == "mac_express"]


async def express_board(db: Database, actor: Actor, *, ip: str | None, centre_id: uuid.UUID | None,
                        month: date) -> ExpressBoard | None:
    """The month's board of a MAC Express point the actor may see (its first one when none is chosen)."""
    from app.sla.services import centres_for

    first, last = month_bounds(month)
    async with db.transaction(actor.context(ip)) as s:
        centres = [c for c in await centres_for(s, actor) if c.channel == "mac_express"]
        if not centres:
            return None
        centre = next((c for c in centres if c.id == centre_id), None) if centre_id else centres[0]
        if centre is None:
            raise NotFound("El punto MAC Express no existe o no tiene acceso a él.")
        a = ExpressAttention
        rows = (await s.scalars(select(a).where(a.centre_id == centre.id, a.registered_at >= lima_start(first),
                                                a.registered_at < lima_start(last + timedelta(days=1))))).all()
        entity_ids = {r.entity_id for r in rows if r.entity_id}
        entities = {e.id: e for e in (await s.scalars(select(Entity).where(Entity.id.in_(entity_ids)))).all()} \
            if entity_ids else {}
    attentions = [mac_express.Attention(r.entity_id, {
        "fecha_registro": r.registered_at, "fecha_inicio_atencion": r.started_at,
        "fecha_salida_servicio": r.left_for_service_at, "fecha_retorno_servicio": r.returned_at,
        "fecha_fin_atencion": r.ended_at}) for r in rows]
    by_entity = mac_express.indicators(attentions)
    counts: dict = {}
    for r in rows:
        counts[r.entity_id] = counts.get(r.entity_id, 0) + 1
    out = [ExpressRow(entities.get(e) if e else None, counts[e], stats) for e, stats in by_entity.items()]
    out.sort(key=lambda row: (row.entity is None, row.entity.short_name if row.entity else ""))
    states = {s: sum(1 for r in rows if r.state == s) for s in STATE_LABELS}
    return ExpressBoard(centre, first, out, states, len(rows))


async def receive_express(db: Database, actor: Actor, *, ip: str | None, centre_id: uuid.UUID | None,
                          records: list) -> SourceResult:
    """A MAC Express point's system pushes attentions (a machine client of the point's administering entity,
    or of a participant for its own attentions only)."""
    from app.sla import ingest
    from app.sla.sources.imports import store_express

    if actor.role != ROLE_CLIENTE:
        raise Forbidden("Solo un cliente máquina puede enviar atenciones MAC Express.")
    centre_id = centre_id or actor.centre_id
    if centre_id is None or (actor.centre_id is not None and centre_id != actor.centre_id):
        raise Forbidden("El cliente no está autorizado para ese punto.")
    if len(records) > ingest.MAX_API_EVENTS:
        raise ValidationFailed(f"Un lote admite como máximo {ingest.MAX_API_EVENTS} atenciones.", field="atenciones")
    ctx = actor.context(ip)
    rows, refused = [], []
    async with db.transaction(ctx) as s:
        centre = await s.get(Centre, centre_id)
        if centre is None:
            raise NotFound("El punto MAC Express no existe.")
        own_ruc = None
        if centre.administering_entity_id != actor.entity_id:
            own_ruc = await s.scalar(select(Entity.ruc).where(Entity.id == actor.entity_id))
        for n, record in enumerate(records, start=1):
            if not isinstance(record, dict):
                refused.append(ingest.RowError(n, "atencion", "Cada atención debe ser un objeto JSON."))
            elif own_ruc is not None and str(record.get("ruc_entidad") or "") != own_ruc:
                refused.append(ingest.RowError(n, "ruc_entidad",
                                               "Este cliente solo puede enviar atenciones de su propia entidad."))
            else:
                rows.append((n, {k: (None if v is None else str(v)) for k, v in record.items()}))
        result = await store_express(s, centre, rows)
        result.errors = sorted([*refused, *result.errors], key=lambda e: (e.line, e.field))
        result.counts["leidos"] += len(refused)
        result.counts["rechazados"] += len(refused)
        c = result.counts
        report = ingest.IngestReport(total=c["leidos"], stored=c["importados"] + c["actualizados"],
                                     unchanged=c["sin_cambios"], errors=result.errors)
        result.batch_id = await ingest.record_batch(s, ctx, report, centre_id=centre.id, source="api",
                                                    kind="mac_express", summary=result.summary())
    return result
