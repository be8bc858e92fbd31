"""Demo ANS data: the previous month and the current month to date of SYNTHETIC attention records for three demo centres, so that dashboards,
the ranking and the monthly reports are populated at first start.

Everything here is made up (a seeded random generator; no real citizen or advisor): the import batches are
named ``datos-sinteticos-demo`` and the dashboard says so for demo centres. Volumes follow the seeds' order of
magnitude (a large centre serves ~40,000 attentions a month). Loaded through the same bulk path as real data
(COPY into staging, validation, upsert, rollups), so load time also exercises the ingest. Idempotent: when the
marker batch exists nothing is done.
"""

from __future__ import annotations

import random
import time as clock
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import select, text

from app.db import Database, TenantContext
from app.sla import alerts, ingest, reports, rollups
from app.sla.calendar import LIMA
from app.sla.models import (
    Advisor,
    AdvisorAssignment,
    Ans,
    AnsTarget,
    CentreClosure,
    ImportBatch,
    InterruptionRow,
    ModuleAssignment,
    ServiceLimitRow,
)
from app.tenants.models import Centre, CentreModule, CentreService, Entity

MARKER = "datos-sinteticos-demo"
# Centre code → attentions per month (Callao is the demo coordinator's centre; Lima Norte the large one).
VOLUMES = {"MAC-CALLAO": 40_000, "MAC-LIMA-NORTE": 15_000, "MAC-VENTANILLA": 6_000}
MONTHS_BACK = 1  # the previous full month plus the current month to date
SEED = 20_260_101
# How each participant fares (probability that the wait is within the limit, abandonment rate), so the demo
# has entities that comply, one at risk and one in breach.
PROFILES = {"20295613620": (0.86, 0.07), "20131312955": (0.95, 0.03), "20267073580": (0.93, 0.04),
            "20551239692": (0.90, 0.05), "20100030595": (0.97, 0.02), "20131257750": (0.91, 0.06),
            "20505208626": (0.94, 0.03)}
TARGETS = (("espera", ">=", "0.9000", 30), ("atencion", ">=", "0.9000", 30), ("abandono", "<=", "0.0600", 30),
           ("puntualidad", ">=", "0.9000", 10), ("ocupabilidad", ">=", "0.9500", 10),
           ("satisfaccion", ">=", "0.8000", 30), ("interrupcion", "<=", "120", 0))


def _months(today: date) -> tuple[date, date]:
    first = today.replace(day=1)
    for _ in range(MONTHS_BACK):
        first = (first - timedelta(days=1)).replace(day=1)
    return first, today


async def load_demo(db: Database, volumes: dict[str, int] | None = None) -> list[str]:
    """Load the synthetic data once; ``volumes`` (centre code → attentions a month) overrides the defaults."""
    from app.sla.express_demo import load_express_demo

    express = await load_express_demo(db)
    return [*await _load_queue_demo(db, volumes), *express]


async def _load_queue_demo(db: Database, volumes: dict[str, int] | None = None) -> list[str]:
    volumes = volumes or VOLUMES
    started = clock.monotonic()
    ctx = TenantContext.system()
    async with db.transaction(ctx) as s:
        await s.execute(text("SELECT pg_advisory_xact_lock(hashtext('plataforma-mac:demo-sla'))"))
        if await s.scalar(select(ImportBatch.id).where(ImportBatch.filename == MARKER).limit(1)):
            return ["ANS: los datos sintéticos de atención ya estaban cargados."]
        centres = {c.code: c for c in (await s.scalars(select(Centre).where(Centre.code.in_(volumes)))).all()}
    if not centres:
        return ["ANS: no hay centros de demostración; se omiten los datos sintéticos."]
    today = datetime.now(LIMA).date()
    start, end = _months(today)
    rng = random.Random(SEED)
    lines, total = [], 0
    for code, monthly in volumes.items():
        centre = centres.get(code)
        if centre is None:
            continue
        async with db.transaction(ctx) as s:
            count = await _load_centre(s, ctx, centre, monthly, start, end, rng)
        total += count
        lines.append(f"  {centre.name}: {count:,} atenciones sintéticas".replace(",", "."))
    for code in volumes:
        if code in centres:
            month = start
            while month < today.replace(day=1):
                await reports.generate(db, ctx, centres[code].id, month, today=today)
                month = (month + timedelta(days=32)).replace(day=1)
            await alerts.evaluate_centre(db, centres[code].id, datetime.now(LIMA))
    seconds = clock.monotonic() - started
    return [f"ANS: {total:,} atenciones SINTÉTICAS de demostración desde {start:%d/%m/%Y} ({seconds:.0f} s):"
            .replace(",", "."), *lines]


async def _load_centre(s, ctx, centre: Centre, monthly: int, start: date, end: date,  # noqa: ANN001
                       rng: random.Random) -> int:
    services = (await s.execute(select(CentreService, Entity).join(Entity, Entity.id == CentreService.entity_id)
                                .where(CentreService.centre_id == centre.id, CentreService.is_active)
                                .order_by(Entity.ruc, CentreService.code))).all()
    modules = list((await s.scalars(select(CentreModule.code).where(CentreModule.centre_id == centre.id)
                                    .order_by(CentreModule.code))).all())
    entities = sorted({e.id: e for _svc, e in services}.values(), key=lambda e: e.ruc)
    if not services or not modules:
        return 0
    # Rules: limits (one service gets a stricter limit mid-way, as happens), module assignments, accepted ANS.
    for svc, entity in services:
        s.add(ServiceLimitRow(centre_id=centre.id, entity_id=entity.id, service_code=svc.code,
                              max_wait_minutes=20, max_attention_minutes=15, counts=True, valid_from=start))
    first_svc, first_entity = services[0]
    s.add(ServiceLimitRow(centre_id=centre.id, entity_id=first_entity.id, service_code=first_svc.code,
                          max_wait_minutes=15, max_attention_minutes=15, counts=True,
                          valid_from=(start + timedelta(days=45)).replace(day=1) + timedelta(days=14)))
    module_owner = {m: entities[i % len(entities)] for i, m in enumerate(modules)}
    for module, entity in module_owner.items():
        s.add(ModuleAssignment(centre_id=centre.id, entity_id=entity.id, module_code=module, valid_from=start))
        # The advisor whose clock-ins below are the module's (what a ZKTeco import resolves through).
        advisor = Advisor(centre_id=centre.id, entity_id=entity.id, code=f"AS-{module}",
                          name=f"Asesor(a) de demostración {module}")
        s.add(advisor)
        await s.flush()
        s.add(AdvisorAssignment(centre_id=centre.id, entity_id=entity.id, advisor_id=advisor.id, module_code=module,
                                kind="fijo", valid_from=start))
    for entity in entities:
        ans = Ans(centre_id=centre.id, entity_id=entity.id, state="aceptado", valid_from=start, tolerance_minutes=15,
                  accepted_at=datetime.combine(start, time(9, 0), LIMA),
                  notes="ANS de demostración (metas ilustrativas).")
        s.add(ans)
        await s.flush()
        for indicator, comparison, target, sample in TARGETS:
            s.add(AnsTarget(ans_id=ans.id, centre_id=centre.id, entity_id=entity.id, indicator=indicator,
                            comparison=comparison, target=Decimal(target), min_sample=sample))
    closure_day = start + timedelta(days=20)
    s.add(CentreClosure(centre_id=centre.id, day=closure_day, reason="Fumigación del local (dato de demostración)"))
    await s.flush()
    calendar = await rollups.load_calendar(s, centre.id)
    days = calendar.working_days(start, end)
    cutoff = datetime.now(LIMA) - timedelta(minutes=30)
    per_day = monthly / max(len(calendar.working_days(start.replace(day=1), (start + timedelta(days=31)).replace(day=1)
                                                      - timedelta(days=1))), 1)
    weights = [3 if e.ruc == "20295613620" else 1 for _svc, e in services]  # RENIEC is the busiest
    tickets, clock_ins, surveys = [], [], []
    line = 0
    for day in days:
        opens, closes = calendar.working_hours(day)
        span = (closes - opens).total_seconds() - 1800
        volume = int(per_day * (0.6 if day.weekday() == 5 else 1.0) * rng.uniform(0.85, 1.15))
        for n in range(volume):
            svc, entity = rng.choices(services, weights)[0]
            on_time_p, abandon_p = PROFILES.get(entity.ruc, (0.92, 0.04))
            # Late afternoons are busier: the share on time drops a little then.
            issued = opens + timedelta(seconds=span * rng.betavariate(2, 1.6))
            if issued > cutoff:
                continue
            line += 1
            tid = f"{day:%y%m%d}-{n:05d}"
            module = rng.choice([m for m, e in module_owner.items() if e.id == entity.id] or modules)
            if rng.random() < abandon_p:
                tickets.append((line, tid, "1", entity.ruc, svc.code, None, None, issued.isoformat(), None, None,
                                None, "abandonado"))
                continue
            wait = rng.uniform(1, 14) if rng.random() < on_time_p else rng.uniform(21, 55)
            called = issued + timedelta(minutes=wait)
            started_at = called + timedelta(seconds=rng.randint(10, 90))
            handling = rng.uniform(4, 13) if rng.random() < 0.93 else rng.uniform(16, 30)
            ended = started_at + timedelta(minutes=handling)
            tickets.append((line, tid, "1", entity.ruc, svc.code, module, f"AS-{module}", issued.isoformat(),
                            called.isoformat(), started_at.isoformat(), ended.isoformat(), "atendido"))
            if rng.random() < 0.2 and ended < cutoff:
                score = rng.choices((5, 4, 3, 2, 1), (50, 32, 10, 5, 3))[0]
                surveys.append((line, f"E-{tid}", entity.ruc, svc.code, (ended + timedelta(minutes=1)).isoformat(),
                                str(score)))
        for module, entity in module_owner.items():
            if rng.random() < 0.03:
                continue  # module unoccupied that day
            first = opens + timedelta(minutes=rng.choice((-12, -8, -5, -2, 0, 3, 7, 11, 14, 18, 25))
                                      if rng.random() < 0.3 else -rng.randint(1, 15))
            if first < cutoff:
                clock_ins.append((line, entity.ruc, module, f"AS-{module}", first.isoformat()))
    report = ingest.IngestReport()
    report.add(await ingest.ingest_records(s, centre_id=centre.id, kind=ingest.TICKETS, records=tickets))
    report.add(await ingest.ingest_records(s, centre_id=centre.id, kind=ingest.CLOCK_INS,
                                           records=_renumber(clock_ins)))
    report.add(await ingest.ingest_records(s, centre_id=centre.id, kind=ingest.SURVEYS, records=_renumber(surveys)))
    # Two interruptions: one charged to a participant, one to the administering entity (excluded).
    outage_day = days[len(days) // 3]
    o_open, _ = calendar.working_hours(outage_day)
    s.add_all([
        InterruptionRow(centre_id=centre.id, external_id="DEMO-INT-1", entity_id=entities[0].id,
                        started_at=o_open + timedelta(hours=2), ended_at=o_open + timedelta(hours=2, minutes=45),
                        cause="Caída del sistema de la entidad (dato de demostración)", attributable_to="entidad"),
        InterruptionRow(centre_id=centre.id, external_id="DEMO-INT-2", entity_id=None,
                        started_at=o_open + timedelta(hours=5), ended_at=o_open + timedelta(hours=5, minutes=30),
                        cause="Corte de energía en el local (dato de demostración)", attributable_to="administradora"),
    ])
    await s.flush()
    await rollups.rebuild_centre(s, centre.id, outage_day, outage_day)
    await ingest.record_batch(s, ctx, report, centre_id=centre.id, source="archivo", kind="atenciones",
                              filename=MARKER)
    return report.stored


def _renumber(records: list[tuple]) -> list[tuple]:
    return [(n, *r[1:]) for n, r in enumerate(records, start=1)]

