"""Breach alerts: a ``no_cumple`` or ``en_riesgo`` month-to-date result creates one alert per entity,
centre, indicator and day (a unique key makes it so even under concurrent ingests), shown in the app and
e-mailed to the entity's managers and the centre's coordinators — only while the centre is open, so nobody
is paged at night; a breach found outside opening hours is alerted at the first evaluation after opening
(the worker's ``sla_evaluate_alerts`` job, and every ingest, evaluate again).

Runs as the system: the recipients belong to two tenants and neither could read the other's people.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from app.config import get_settings
from app.db import ROLE_COORDINADOR, ROLE_GESTOR, Database, TenantContext
from app.sla import rollups
from app.sla.calendar import LIMA
from app.sla.indicators import INDICATOR_LABELS
from app.sla.models import Alert, Ans
from app.sla.services import accepted_ans, compliance, month_series
from app.tenants.models import Centre, Entity, Membership, User

STATUS_LABELS = {"no_cumple": "no cumple", "en_riesgo": "en riesgo"}


async def evaluate_centre(db: Database, centre_id: uuid.UUID, now: datetime) -> list[uuid.UUID]:
    """Create today's alerts of a centre (if it is open now); returns the ids of the alerts created."""
    now = now.astimezone(LIMA)
    today = now.date()
    created: list[uuid.UUID] = []
    async with db.transaction(TenantContext.system()) as s:
        calendar = await rollups.load_calendar(s, centre_id)
        if not calendar.is_open_at(now):
            return []
        centre = await s.get(Centre, centre_id)
        entity_ids = (await s.scalars(select(Ans.entity_id).where(Ans.centre_id == centre_id,
                                                                  Ans.state == "aceptado").distinct())).all()
        for entity_id in entity_ids:
            _ans, targets = await accepted_ans(s, centre_id, entity_id)
            if not targets:
                continue
            services, entity_days = await month_series(s, centre_id, entity_id, today.replace(day=1))
            rows, _points, _remaining = compliance(targets, services, entity_days, calendar, today.replace(day=1),
                                                   today)
            for row in rows:
                if row.status not in ("no_cumple", "en_riesgo") or row.target is None:
                    continue
                alert_id = await s.scalar(
                    insert(Alert).values(id=uuid.uuid4(), centre_id=centre_id, entity_id=entity_id,
                                         indicator=row.indicator, day=today, status=row.status,
                                         value=row.measure.value, projected=row.projected,
                                         target=row.target.target, comparison=row.target.comparison)
                    .on_conflict_do_nothing(index_elements=["centre_id", "entity_id", "indicator", "day"])
                    .returning(Alert.id))
                if alert_id is None:
                    continue  # already alerted today
                created.append(alert_id)
                await _mail(s, centre, entity_id, row)
    return created


async def _mail(session, centre: Centre, entity_id: uuid.UUID, row) -> None:  # noqa: ANN001
    from app.worker.mail import queue_email

    entity = await session.get(Entity, entity_id)
    recipients = (await session.execute(
        select(User.email, Membership.entity_id).join(Membership, Membership.user_id == User.id)
        .where(User.is_active, Membership.is_active,
               ((Membership.entity_id == entity_id) & (Membership.role == ROLE_GESTOR))
               | ((Membership.entity_id == centre.administering_entity_id) & (Membership.role == ROLE_COORDINADOR)))
    )).all()
    label = INDICATOR_LABELS[row.indicator]
    value = "sin dato" if row.measure.value is None else f"{row.measure.value}"
    subject = f"ANS {STATUS_LABELS[row.status]}: {label} de {entity.short_name} en {centre.name}"
    lines = [
        f"El indicador «{label}» de {entity.name} en {centre.name} está {STATUS_LABELS[row.status]} "
        f"en lo que va del mes.",
        f"Valor actual: {value} (meta {row.target.comparison} {row.target.target}).",
    ]
    if row.projected is not None:
        lines.append(f"Proyección al cierre del mes: {row.projected}.")
    lines.append(f"Vea el tablero: {get_settings().base_url}/ans/tablero?centro={centre.id}&entidad={entity_id}")
    lines.append("Este aviso se envía una sola vez por indicador y día.")
    for email, member_entity in recipients:
        await queue_email(session, to=email, subject=subject[:250], body="\n".join(lines), entity_id=member_entity)


async def evaluate_all(db: Database, now: datetime) -> int:
    """Every active centre (the worker's periodic job)."""
    async with db.transaction(TenantContext.system()) as s:
        centre_ids = list((await s.scalars(select(Centre.id).where(Centre.is_active))).all())
    total = 0
    for centre_id in centre_ids:
        total += len(await evaluate_centre(db, centre_id, now))
    return total
