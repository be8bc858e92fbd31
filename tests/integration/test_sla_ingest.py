"""Ingest of attention events: row-by-row reports, idempotent re-sends, all-or-nothing on database failures,
and rollups that follow the events."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from app.db import TenantContext
from app.errors import ValidationFailed
from app.sla import ingest
from app.sla.models import DailyServiceRollup, ImportBatch, TicketSegment
from tests.sla_helpers import TICKET_HEADER, build_world, ticket_line


@pytest.fixture
async def world(db, tenants):
    return await build_world(db, tenants)


def tickets_csv(world, *lines: str) -> bytes:
    return (TICKET_HEADER + "".join(lines)).encode()


async def upload(db, world, data: bytes, kind: str = "atenciones"):
    ctx = world.coordinator()
    async with db.transaction(ctx) as s:
        report = await ingest.ingest_csv(s, centre_id=world.centre_id, kind=ingest.KINDS[kind], data=data)
        await ingest.record_batch(s, ctx, report, centre_id=world.centre_id, source="csv", kind=kind)
    return report


async def rollup(db, world, entity, day):
    async with db.transaction(TenantContext.system()) as s:
        return await s.scalar(select(DailyServiceRollup).where(
            DailyServiceRollup.centre_id == world.centre_id, DailyServiceRollup.entity_id == entity.entity.id,
            DailyServiceRollup.day == day))


async def test_good_rows_are_stored_and_each_bad_row_is_reported_with_line_field_and_reason(db, world):
    ruc = world.reniec.entity.ruc
    data = tickets_csv(
        world,
        ticket_line("T1", ruc, "2025-03-03", "09:00", "09:10"),  # line 2: good
        ticket_line("T2", ruc, "2025-03-03", "09:00", "09:40"),  # line 3: good (late)
        ticket_line("T3", "20999999999", "2025-03-03", "09:00", "09:10"),  # line 4: unknown entity
        "T4,1,{ruc},DNI,M01,A1,2025-03-03T09:00:00,,,,abandonado\n".format(ruc=ruc),  # line 5: no offset
        ticket_line("T5", ruc, "2025-03-03", "09:00", "08:50"),  # line 6: called before issued
        ticket_line("T6", ruc, "2025-03-03", "09:00", None, outcome="perdido"),  # line 7: bad outcome
        ticket_line("T7", ruc, "2025-03-03", "09:00", "09:05", service="RUC"),  # line 8: SUNAT's service
        ticket_line("T8", ruc, "2025-03-03", "09:00", None, outcome="abandonado"),  # line 9: good
    )
    report = await upload(db, world, data)
    assert (report.total, report.stored, report.unchanged, report.rejected_lines) == (8, 3, 0, 5)
    by_line = {(e.line, e.field): e.reason for e in report.errors}
    assert "20999999999" in by_line[(4, "ruc_entidad")]
    assert "zona horaria" in by_line[(5, "emitido")]
    assert by_line[(6, "llamado")] == "El llamado es anterior a la emisión."
    assert "perdido" in by_line[(7, "resultado")]
    assert "RUC" in by_line[(8, "servicio")]
    day = await rollup(db, world, world.reniec, date(2025, 3, 3))
    assert (day.issued, day.abandoned, day.waits, day.waits_ok) == (3, 1, 2, 1)


@pytest.mark.parametrize(("issued", "valid"), [
    ("2025-03-03T09:00:00-05:00", True),
    ("2025-03-03T09:00:00.250000-05:00", True),  # not written back identically (trailing zeros): exact check
    ("2025-03-03T14:00:00Z", True),
    ("2025-03-03 09:00-05", True),
    ("2025-03-03T09:00:00", False),  # no offset
    ("2025-03-03T24:00:00-05:00", False),  # PostgreSQL would read the next midnight
    ("2025-03-03T09:00:60-05:00", False),  # nor a leap second
    ("2025-03-03T09:00:00.1234567-05:00", False),  # more than microseconds
    ("2025-02-29T09:00:00-05:00", False),  # 2025 is not a leap year: the quick check fails, the exact one reports
    ("2025-03-03T9:00:00-05:00", False),
    ("2025-13-03T09:00:00-05:00", False),  # the common shape out of range: the parse raises, the exact check reports
    ("2025-03-03T09:60:00-05:00", False),
    ("2025-04-31T09:00:00-05:00", False),
    ("2025-03-0aT09:00:00-05:00", False),
    ("2025-03-03T09:00:00-15:59", True),  # PostgreSQL's widest offset
    ("2025-03-03T09:00:00-99:99", False),  # an offset out of range: a row reason, not a failed batch
    ("2025-03-03T09:00:00+16:00", False),
    ("2025-03-03T09:00:00-05:60", False),
    ("2025-03-03T09:00:00-0560", False),
    ("2025-03-03T09:00:00+16", False),
])
async def test_a_time_is_valid_only_as_iso_8601_with_its_offset_and_a_real_date_and_time(db, world, issued, valid):
    ruc = world.reniec.entity.ruc
    data = tickets_csv(world, ticket_line("T1", ruc, "2025-03-03", "08:00", None, outcome="abandonado"),
                       f"T2,1,{ruc},DNI,M01,A1,{issued},,,,abandonado\n")
    report = await upload(db, world, data)
    if valid:
        assert (report.stored, report.errors) == (2, [])
    else:
        assert report.stored == 1
        assert [(e.line, e.field) for e in report.errors] == [(3, "emitido")]
        assert issued in report.errors[0].reason


async def test_re_sending_the_same_events_changes_nothing(db, world):
    ruc = world.reniec.entity.ruc
    data = tickets_csv(world, ticket_line("T1", ruc, "2025-03-03", "09:00", "09:10"),
                       ticket_line("T2", ruc, "2025-03-03", "09:30", None, outcome="abandonado"))
    first = await upload(db, world, data)
    async with db.transaction(TenantContext.system()) as s:
        before = (await s.execute(select(TicketSegment.ticket_id, TicketSegment.updated_at)
                                  .where(TicketSegment.centre_id == world.centre_id)
                                  .order_by(TicketSegment.ticket_id))).all()
    second = await upload(db, world, data)
    assert (first.stored, first.unchanged) == (2, 0)
    assert (second.stored, second.unchanged, second.errors) == (0, 2, [])
    async with db.transaction(TenantContext.system()) as s:
        after = (await s.execute(select(TicketSegment.ticket_id, TicketSegment.updated_at)
                                 .where(TicketSegment.centre_id == world.centre_id)
                                 .order_by(TicketSegment.ticket_id))).all()
    assert after == before  # not even rewritten
    day = await rollup(db, world, world.reniec, date(2025, 3, 3))
    assert (day.issued, day.abandoned) == (2, 1)


async def test_a_recall_sent_later_keeps_the_last_call(db, world):
    ruc = world.reniec.entity.ruc
    await upload(db, world, tickets_csv(world, ticket_line("T1", ruc, "2025-03-03", "09:00", "09:10")))
    report = await upload(db, world, tickets_csv(world, ticket_line("T1", ruc, "2025-03-03", "09:00", "09:25",
                                                                   end="09:30")))
    assert report.stored == 1
    day = await rollup(db, world, world.reniec, date(2025, 3, 3))
    assert (day.waits, day.waits_ok) == (1, 0)  # 25 minutes > 20


async def test_nothing_is_stored_when_the_batch_fails_for_a_database_reason(db, world):
    ruc = world.reniec.entity.ruc
    data = tickets_csv(world, ticket_line("T1", ruc, "2025-03-03", "09:00", "09:10"))
    ctx = world.coordinator()
    with pytest.raises(Exception, match="simulated"):
        async with db.transaction(ctx) as s:
            report = await ingest.ingest_csv(s, centre_id=world.centre_id, kind=ingest.TICKETS, data=data)
            assert report.stored == 1
            await s.execute(text("SELECT * FROM raise_simulated_failure()"))  # noqa: this function does not exist
    async with db.transaction(TenantContext.system()) as s:
        count = await s.scalar(select(func.count()).select_from(TicketSegment)
                               .where(TicketSegment.centre_id == world.centre_id))
        rollups = await s.scalar(select(func.count()).select_from(DailyServiceRollup)
                                 .where(DailyServiceRollup.centre_id == world.centre_id))
    assert (count, rollups) == (0, 0)


async def test_an_api_batch_mixes_event_kinds_and_reports_by_position(db, world):
    ruc = world.reniec.entity.ruc
    events = [
        {"tipo": "atencion", "ticket": "A1", "ruc_entidad": ruc, "servicio": "DNI", "modulo": "M01",
         "emitido": "2025-03-03T09:00:00-05:00", "llamado": "2025-03-03T09:05:00-05:00",
         "inicio": "2025-03-03T09:05:00-05:00", "fin": "2025-03-03T09:10:00-05:00", "resultado": "atendido"},
        {"tipo": "marcacion", "ruc_entidad": ruc, "modulo": "M01", "asesor": "A1", "hora": "2025-03-03T07:59:00-05:00"},
        {"tipo": "encuesta", "encuesta": "E1", "ruc_entidad": ruc, "servicio": "DNI",
         "hora": "2025-03-03T09:11:00-05:00", "puntaje": 6},
        {"tipo": "saludo"},
    ]
    async with db.transaction(world.coordinator()) as s:
        report = await ingest.ingest_events(s, centre_id=world.centre_id, events=events)
    assert (report.total, report.stored, report.rejected_lines) == (4, 2, 2)
    assert [(e.line, e.field) for e in report.errors] == [(3, "puntaje"), (4, "tipo")]


async def test_a_participants_machine_client_may_only_send_its_own_rows(db, world):
    events = [{"tipo": "atencion", "ticket": "X1", "ruc_entidad": world.sunat.entity.ruc, "servicio": "RUC",
               "emitido": "2025-03-03T09:00:00-05:00", "resultado": "abandonado"}]
    client = TenantContext(role="cliente_maquina", entity_id=world.reniec.entity.id, client_id="mac-prueba")
    async with db.transaction(client) as s:
        report = await ingest.ingest_events(s, centre_id=world.centre_id, events=events,
                                            only_ruc=world.reniec.entity.ruc)
    assert report.stored == 0 and report.errors[0].field == "ruc_entidad"


async def test_a_wrong_header_is_refused_before_anything_is_read(db, world):
    with pytest.raises(ValidationFailed, match="faltan las columnas.*emitido"):
        await upload(db, world, b"ticket,ruc_entidad,servicio,resultado\nT1,1,DNI,atendido\n")


async def test_a_batch_is_recorded_with_its_report(db, world):
    ruc = world.reniec.entity.ruc
    report = await upload(db, world, tickets_csv(world, ticket_line("T1", ruc, "2025-03-03", "09:00", "09:10"),
                                                 ticket_line("T2", "1", "2025-03-03", "09:00", "09:10")))
    async with db.transaction(world.coordinator()) as s:
        batch = await s.get(ImportBatch, report.batch_id)
    assert (batch.total, batch.stored, batch.rejected) == (2, 1, 1)
    assert batch.errors[0]["linea"] == 3 and batch.errors[0]["campo"] == "ruc_entidad"


async def test_mac_sla_import_uses_the_same_bulk_path(db, world, tmp_path: Path):
    ruc = world.reniec.entity.ruc
    path = tmp_path / "atenciones.csv"
    path.write_bytes(tickets_csv(world, ticket_line("T1", ruc, "2025-03-03", "09:00", "09:10"),
                                 ticket_line("T2", ruc, "2025-03-03", "09:00", "08:00")))
    report = await ingest.import_file(db, path, centre_code=world.admin.centre.code)
    assert (report.stored, report.rejected_lines) == (1, 1)
    assert report.batch_id is not None and isinstance(report.batch_id, uuid.UUID)


def test_the_command_line_import_prints_the_row_report(world, tmp_path: Path, capsys):
    from app.cli import main

    ruc = world.reniec.entity.ruc
    path = tmp_path / "atenciones.csv"
    path.write_bytes(tickets_csv(world, ticket_line("C1", ruc, "2025-03-03", "09:00", "09:10"),
                                 ticket_line("C2", ruc, "2025-03-03", "09:00", "09:10", service="NOPE")))
    code = main(["sla", "import", str(path), "--centro", world.admin.centre.code])
    out = capsys.readouterr().out
    assert code == 1  # some rows were rejected
    assert "guardadas: 1" in out and "línea 3, campo «servicio»: El servicio «NOPE» no es de esa entidad" in out
    assert main(["sla", "rebuild", "--centro", world.admin.centre.code]) == 0
    assert "Resúmenes diarios recalculados" in capsys.readouterr().out


async def test_a_line_with_an_unclosed_quote_an_extra_column_or_a_nul_is_a_row_error_and_the_rest_is_stored(
        db, world):
    ruc = world.reniec.entity.ruc
    good = ticket_line("T1", ruc, "2025-03-03", "09:00", "09:10")
    data = tickets_csv(
        world,
        good,  # line 2: good
        good.replace("T1", "T2").rstrip("\n") + ",sobra\n",  # line 3: one column too many
        good.replace("T1", '"T3'),  # line 4: a quote that never closes
        good.replace("T1", "T\x004"),  # line 5: a NUL byte
        ticket_line("T5", ruc, "2025-03-03", "09:00", "09:40"),  # line 6: good
    )
    report = await upload(db, world, data)
    assert (report.total, report.stored, report.rejected_lines) == (5, 2, 3)
    by_line = {e.line: (e.field, e.reason) for e in report.errors}
    assert by_line[3] == ("linea", "La línea tiene 12 columnas; el encabezado tiene 11.")
    assert "comillas" in by_line[4][1]
    assert "nulo" in by_line[5][1]
    day = await rollup(db, world, world.reniec, date(2025, 3, 3))
    assert day.issued == 2
