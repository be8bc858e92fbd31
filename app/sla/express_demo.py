"""Demo MAC Express attentions: SYNTHETIC records (a seeded random generator, no real citizen or advisor) for
the demo's MAC Express points, the previous month and the current month to date, so that the MAC Express
board is populated at first start. Loaded through the same path as an uploaded file; idempotent (a point
that already has attentions gets none)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import func, select

from app.db import Database, TenantContext
from app.localtime import now_lima
from app.sla.models import ExpressAttention
from app.sla.rollups import load_calendar
from app.sla.sources.imports import store_express
from app.tenants.models import Centre, CentreService, Entity

CENTRES = {"MACX-ESTRECHO": 8, "MACX-PACHACUTEC": 14}  # attentions per working day
SEED = 20_260_102
FORMAT = "%Y-%m-%d %H:%M:%S"


async def load_express_demo(db: Database) -> list[str]:
    ctx = TenantContext.system()
    today = now_lima()
    start = (today.date().replace(day=1) - timedelta(days=1)).replace(day=1)
    cutoff = today - timedelta(minutes=30)
    rng = random.Random(SEED)
    lines = []
    for code, per_day in CENTRES.items():
        async with db.transaction(ctx) as s:
            centre = await s.scalar(select(Centre).where(Centre.code == code))
            if centre is None or await s.scalar(select(func.count()).select_from(ExpressAttention)
                                                .where(ExpressAttention.centre_id == centre.id)):
                continue
            services = (await s.execute(select(Entity.ruc, CentreService.code)
                                        .join(Entity, Entity.id == CentreService.entity_id)
                                        .where(CentreService.centre_id == centre.id)
                                        .order_by(Entity.ruc, CentreService.code))).all()
            if not services:
                continue
            calendar = await load_calendar(s, centre.id)
            rows = []
            for day in calendar.working_days(start, today.date()):
                opens, closes = calendar.working_hours(day)
                for n in range(int(per_day * rng.uniform(0.6, 1.4))):
                    registered = opens + timedelta(seconds=rng.uniform(0, (closes - opens).total_seconds() - 3600))
                    if registered > cutoff:
                        continue
                    ruc, service = rng.choice(services)
                    begun = registered + timedelta(minutes=rng.uniform(0.5, 12))
                    chosen = begun + timedelta(minutes=rng.uniform(0.5, 3))
                    picked = chosen + timedelta(seconds=rng.uniform(20, 90))
                    leaves = picked + timedelta(seconds=rng.uniform(10, 60))
                    back = leaves + timedelta(minutes=rng.uniform(4, 25))
                    ends = back + timedelta(minutes=rng.uniform(1, 5))
                    moments = [registered, begun, chosen, picked, leaves, back, ends]
                    state = "EN_SERVICIO"
                    if rng.random() < 0.05:  # the citizen left before the entity was chosen
                        state, ruc, service, moments = "REGISTRADA", "", "", [registered] + [None] * 6
                    rows.append((len(rows) + 2, {
                        "atencion": f"DEMO-{day:%y%m%d}-{n:03d}", "ruc_entidad": ruc, "servicio": service,
                        "asesor": f"AX-{code[-4:]}", "estado": state,
                        **{k: (m.strftime(FORMAT) if isinstance(m, datetime) else "")
                           for k, m in zip(("fecha_registro", "fecha_inicio_atencion", "fecha_seleccion_entidad",
                                            "fecha_seleccion_servicio", "fecha_salida_servicio",
                                            "fecha_retorno_servicio", "fecha_fin_atencion"), moments, strict=True)}}))
            result = await store_express(s, centre, rows)
        lines.append(f"  {centre.name}: {result.counts['importados']} atenciones MAC Express sintéticas")
    return (["MAC Express: atenciones SINTÉTICAS de demostración:", *lines] if lines else [])
