"""The MAC Express board: a point's attentions of a month and their own indicators (registration → start,
time in the entity's digital service, total time), per entity. MAC Express points have no queue, so they are
shown apart from the queue-based centres' ANS dashboard."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select

from app.auth.actor import Actor
from app.db import Database
from app.errors import NotFound
from app.sla.calendar import month_bounds
from app.sla.models import ExpressAttention
from app.sla.rollups import lima_start
from app.sla.sources import mac_express
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
