"""The daily service rollups are computed in SQL where the tickets are; they must be exactly the tallies of the
pure definition (app.sla.indicators.tally_service_days) over the same events: working days only, the limit in
force on each day (and its ``counts`` flag), waits and handling times against the limits to the microsecond,
the waiting-time histogram, abandoned and excluded segments, surveys, and interruptions attributable to the
administering entity (for one entity or the whole centre)."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from app.db import TenantContext
from app.sla import rollups
from app.sla.calendar import LIMA
from app.sla.indicators import Interruption, Segment, ServiceLimit, Survey, tally_service_days
from app.sla.models import (
    CentreClosure,
    DailyServiceRollup,
    InterruptionRow,
    ServiceLimitRow,
    SurveyAnswer,
    TicketSegment,
)
from tests.sla_helpers import build_world

FIRST = date(2025, 3, 1)  # a Saturday; Sundays are not working days in this world
DAYS = [FIRST + timedelta(days=n) for n in range(16)]
CLOSED = date(2025, 3, 12)


@pytest.fixture
async def world(db, tenants):
    return await build_world(db, tenants)


def at(day: date, hh: int, mm: int = 0, ss: int = 0, us: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm, ss, us), LIMA)


def random_segments(rnd: random.Random, entity_id, services: list[str]) -> list[TicketSegment]:
    rows = []
    for n in range(400):
        day = rnd.choice(DAYS)
        issued = at(day, 8, 0) + timedelta(seconds=rnd.randint(0, 9 * 3600), microseconds=rnd.randint(0, 999_999))
        outcome = rnd.choice(["attended"] * 6 + ["abandoned", "transferred"])
        wait = rnd.choice([timedelta(minutes=20), timedelta(minutes=20, microseconds=1), timedelta(minutes=30),
                           timedelta(seconds=-30), timedelta(minutes=rnd.uniform(0, 75))])
        handling = rnd.choice([timedelta(minutes=15), timedelta(minutes=15, microseconds=1),
                               timedelta(minutes=rnd.uniform(0, 40))])
        called = issued + wait if outcome != "abandoned" or rnd.random() < 0.3 else None
        started = called if outcome != "abandoned" and rnd.random() < 0.9 else None
        ended = started + handling if started is not None and rnd.random() < 0.9 else None
        rows.append(TicketSegment(ticket_id=f"T{n:04d}", segment=rnd.randint(1, 2), entity_id=entity_id,
                                  service_code=rnd.choice(services), module_code="M01", advisor="A1",
                                  issued_at=issued, called_at=called, started_at=started, ended_at=ended,
                                  outcome=outcome))
    return rows


async def test_sql_rollups_are_the_tallies_of_the_pure_definition(db, world):
    rnd = random.Random(18)
    centre_id = world.centre_id
    reniec, sunat = world.reniec.entity.id, world.sunat.entity.id
    async with db.transaction(TenantContext.system()) as s:
        # RENIEC: DNI's limit tightens on the 10th; ACTA counts until the 7th, then not; MENOR has no limit.
        s.add_all([
            ServiceLimitRow(centre_id=centre_id, entity_id=reniec, service_code="DNI", max_wait_minutes=10,
                            max_attention_minutes=12, counts=True, valid_from=date(2025, 3, 10)),
            ServiceLimitRow(centre_id=centre_id, entity_id=reniec, service_code="ACTA", max_wait_minutes=25,
                            max_attention_minutes=10, counts=True, valid_from=date(2020, 1, 1)),
            ServiceLimitRow(centre_id=centre_id, entity_id=reniec, service_code="ACTA", max_wait_minutes=25,
                            max_attention_minutes=10, counts=False, valid_from=date(2025, 3, 7)),
            CentreClosure(centre_id=centre_id, day=CLOSED, reason="Simulacro"),
        ])
        segments = random_segments(rnd, reniec, ["DNI", "ACTA", "MENOR"]) + random_segments(rnd, sunat, ["RUC"])
        unique = {}
        for seg in segments:
            unique[(seg.ticket_id, seg.segment, seg.entity_id)] = seg
        for seg in unique.values():
            seg.centre_id = centre_id
            seg.ticket_id = f"{seg.ticket_id}-{str(seg.entity_id)[:4]}"
        # A zero-length abandoned segment inside a centre-wide interruption, and one on its very end.
        inside = at(date(2025, 3, 4), 10, 30)
        for ticket, moment in (("Z-IN", inside), ("Z-END", at(date(2025, 3, 4), 11, 0))):
            unique[ticket] = TicketSegment(centre_id=centre_id, ticket_id=ticket, segment=1, entity_id=reniec,
                                           service_code="DNI", issued_at=moment, outcome="abandoned")
        s.add_all(unique.values())
        s.add_all(SurveyAnswer(centre_id=centre_id, survey_id=f"E{n}", entity_id=rnd.choice([reniec, sunat]),
                               service_code=rnd.choice(["DNI", "RUC", "MENOR"]),
                               at=at(rnd.choice(DAYS), 9, 0) + timedelta(minutes=rnd.randint(0, 400)),
                               score=rnd.randint(1, 5)) for n in range(150))
        s.add_all([
            InterruptionRow(centre_id=centre_id, external_id="I1", entity_id=None, started_at=at(date(2025, 3, 4), 10),
                            ended_at=at(date(2025, 3, 4), 11), cause="Corte de luz", attributable_to="administradora"),
            InterruptionRow(centre_id=centre_id, external_id="I2", entity_id=sunat,
                            started_at=at(date(2025, 3, 5), 9), ended_at=at(date(2025, 3, 6), 9, 30),
                            cause="Red caída", attributable_to="administradora"),
            InterruptionRow(centre_id=centre_id, external_id="I3", entity_id=reniec,
                            started_at=at(date(2025, 3, 11), 9), ended_at=at(date(2025, 3, 11), 10),
                            cause="Sistema de la entidad", attributable_to="entidad"),
        ])

    pairs = {(e, d) for e in (reniec, sunat) for d in DAYS}
    async with db.transaction(TenantContext.system()) as s:
        await rollups.refresh(s, centre_id, pairs)
        stored = {(r.entity_id, r.service_code, r.day): (r.issued, r.abandoned, r.waits, r.waits_ok, r.handled,
                                                         r.handled_ok, r.surveys, r.surveys_ok, r.excluded,
                                                         list(r.wait_histogram))
                  for r in (await s.scalars(select(DailyServiceRollup).where(
                      DailyServiceRollup.centre_id == centre_id))).all()}
        calendar = await rollups.load_calendar(s, centre_id)
        limits: dict[tuple, list[ServiceLimit]] = defaultdict(list)
        for r in (await s.scalars(select(ServiceLimitRow).where(ServiceLimitRow.centre_id == centre_id))).all():
            limits[(r.entity_id, r.service_code)].append(ServiceLimit(r.service_code, r.max_wait_minutes,
                                                                      r.max_attention_minutes, r.counts,
                                                                      r.valid_from))
        interruptions = [Interruption(r.started_at, r.ended_at, r.attributable_to, r.entity_id, r.cause)
                         for r in (await s.scalars(select(InterruptionRow)
                                                   .where(InterruptionRow.centre_id == centre_id))).all()]
        tickets = (await s.scalars(select(TicketSegment).where(TicketSegment.centre_id == centre_id))).all()
        surveys = (await s.scalars(select(SurveyAnswer).where(SurveyAnswer.centre_id == centre_id))).all()

    expected = {}
    for entity in (reniec, sunat):
        own = [Segment(t.ticket_id, entity, t.service_code, t.issued_at, t.outcome, t.called_at, t.started_at,
                       t.ended_at, t.segment, t.module_code) for t in tickets if t.entity_id == entity]
        answers = [Survey(entity, a.service_code, a.at, a.score) for a in surveys if a.entity_id == entity]
        service_limits = {code: ls for (e, code), ls in limits.items() if e == entity}
        for (e, service, day), c in tally_service_days(own, answers, service_limits, calendar, interruptions).items():
            expected[(e, service, day)] = (c.issued, c.abandoned, c.waits, c.waits_ok, c.handled, c.handled_ok,
                                           c.surveys, c.surveys_ok, c.excluded, c.wait_histogram)

    assert stored == expected
    # The world exercises what the rules are about (a test that cannot fail proves nothing).
    assert any(v[8] for v in stored.values()), "some segment is excluded by an interruption"
    assert not any(d in (CLOSED, date(2025, 3, 2), date(2025, 3, 9)) for _e, _s, d in stored)
    assert {s for _e, s, _d in stored} >= {"DNI", "ACTA", "RUC", "MENOR"}  # MENOR: surveys only
    assert any(v[2] != v[3] for v in stored.values()) and any(v[4] != v[5] for v in stored.values())
