"""Real sources reach the platform through the one ingest path: the national «detalle de atenciones» export,
ZKTeco clock-ins resolved through advisors' module assignments, and MAC Express records; each tenant sees and
feeds only its own."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select, text, update

from app.auth.actor import Actor
from app.db import TenantContext
from app.errors import Conflict, NotFound, ValidationFailed
from app.sla import advisors, express
from app.sla.models import (
    Advisor,
    ClockInRow,
    DailyEntityRollup,
    DailyServiceRollup,
    ExpressAttention,
    ImportBatch,
    TicketSegment,
)
from app.sla.sources.imports import upload_source
from app.tenants.models import Centre
from tests.sla_helpers import build_world

DNI = "45781236"  # a citizen's document number in the export: it must never be stored
HEADER = ("IDENTIFICADOR UNICO;NOMBRE MAC;NOMBRE ENTIDAD;SERVICIO;HORA DE LLEGADA;HORA DE LLAMADO;TIEMPO ESPERA;"
          "HORA INICIO;TIEMPO PROMEDIO;FIN DE ATENCION;TIEMPO TOTAL;N° DE MODULO;NUMERO DE TICKET;ESTADO ATENCION;"
          "FECHA;MODALIDAD;TIPO DE ATENCION;N° DE DOCUMENTO")


@pytest.fixture
async def world(db, tenants):
    return await build_world(db, tenants)


def coordinator(world) -> Actor:
    return Actor(role="coordinador_centro", entity_id=world.admin.entity.id,
                 user_id=world.admin.users["coordinador_centro"].id)


def manager(tenant) -> Actor:
    return Actor(role="gestor_entidad", entity_id=tenant.entity.id, user_id=tenant.users["gestor_entidad"].id)


def export_row(world, ident, entity, service, arrival, called, start, end, module, ticket, state, wait=""):
    return ";".join([ident, world.admin.centre.name, entity, service, arrival, called, wait, start, "", end, "",
                     module, ticket, state, "03/03/2025", "PRESENCIAL", "TRAMITE", DNI])


def export_file(world, *rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode()


async def test_the_national_export_is_imported_counted_and_idempotent_and_no_document_number_is_stored(db, world):
    reniec, sunat = world.reniec.entity, world.sunat.entity
    rows = [
        export_row(world, "1", reniec.short_name, "Duplicado de DNI", "09:00:00", "09:05:00", "09:05:20", "09:07:00",
                   "M01", "B010", "Error de selección", wait="00:05:00"),
        export_row(world, "2", sunat.name.upper(), "inscripcion ruc", "09:07:00", "09:20:00", "09:20:30", "09:30:00",
                   "M02", "B010", "Terminado"),
        export_row(world, "3", reniec.short_name, "Duplicado de DNI", "09:10:00", "09:50:00", "", "", "M01", "A011",
                   "Abandono"),
        export_row(world, "4", reniec.short_name, "Duplicado de DNI", "09:11:00", "09:30:00", "09:30:10", "",
                   "M01", "A012", "Atención Cerrada", wait="00:25:00"),
        export_row(world, "5", reniec.short_name, "Duplicado de DNI", "09:12:00", "", "", "", "", "A013", "En espera"),
        export_row(world, "6", reniec.short_name, "Duplicado de DNI", "09:13:00", "", "", "", "", "A014", "Cancelado"),
        export_row(world, "7", "MIGRACIONES", "Pasaporte", "09:14:00", "09:15:00", "09:16:00", "09:20:00", "M01",
                   "A015", "Terminado"),
        export_row(world, "8", reniec.short_name, "Duplicado de DNI", "09:15:00", "09:16:00", "09:17:00", "09:20:00",
                   "M99", "A016", "Terminado"),
    ]
    result = await upload_source(db, coordinator(world), ip=None, centre_id=world.centre_id, fmt="detalle",
                                 data=export_file(world, *rows), filename="detalle.csv")
    assert result.counts == {"leidos": 8, "importados": 4, "actualizados": 0, "sin_cambios": 0, "abiertos": 1,
                             "cancelados": 1, "sin_mapeo": 1, "rechazados": 1}
    assert [(e.line, e.field) for e in result.errors] == [(8, "SERVICIO"), (9, "modulo")]
    assert [(w.line, w.field) for w in result.warnings] == [(5, "TIEMPO ESPERA")]
    async with db.transaction(TenantContext.system()) as s:
        stored = {(t.ticket_id, t.segment): t for t in (await s.scalars(
            select(TicketSegment).where(TicketSegment.centre_id == world.centre_id))).all()}
        day = await s.scalar(select(DailyServiceRollup).where(
            DailyServiceRollup.centre_id == world.centre_id, DailyServiceRollup.entity_id == reniec.id,
            DailyServiceRollup.day == date(2025, 3, 3)))
        batch = await s.get(ImportBatch, result.batch_id)
        leaks = await s.scalar(text(
            "SELECT count(*) FROM sla_tickets t WHERE t::text LIKE :dni"), {"dni": f"%{DNI}%"})
        leaks += await s.scalar(text("SELECT count(*) FROM sla_import_batches b WHERE b::text LIKE :dni"),
                                {"dni": f"%{DNI}%"})
        leaks += await s.scalar(text("SELECT count(*) FROM audit_log a WHERE a::text LIKE :dni"), {"dni": f"%{DNI}%"})
    assert sorted(stored) == [("20250303-A011", 1), ("20250303-A012", 1), ("20250303-B010", 1), ("20250303-B010", 2)]
    first, second = stored[("20250303-B010", 1)], stored[("20250303-B010", 2)]
    assert (first.outcome, first.entity_id, second.outcome, second.entity_id) == ("transferred", reniec.id,
                                                                                  "attended", sunat.id)
    assert stored[("20250303-A011", 1)].started_at is None and stored[("20250303-A011", 1)].called_at is not None
    assert stored[("20250303-A012", 1)].outcome == "attended" and stored[("20250303-A012", 1)].ended_at is None
    assert (day.issued, day.abandoned, day.waits, day.handled) == (3, 1, 2, 1)  # the closed one has no end
    assert batch.kind == "detalle" and batch.summary["conteos"]["importados"] == 4 and leaks == 0

    again = await upload_source(db, coordinator(world), ip=None, centre_id=world.centre_id, fmt="detalle",
                                data=export_file(world, *rows), filename="detalle.csv")
    assert (again.counts["importados"], again.counts["actualizados"], again.counts["sin_cambios"]) == (0, 0, 4)
    # A later export has the closed attention finished: it updates, the rest is unchanged.
    rows[3] = export_row(world, "4", reniec.short_name, "Duplicado de DNI", "09:11:00", "09:30:00", "09:30:10",
                         "09:40:00", "M01", "A012", "Terminado")
    later = await upload_source(db, coordinator(world), ip=None, centre_id=world.centre_id, fmt="detalle",
                                data=export_file(world, *rows), filename="detalle.csv")
    assert (later.counts["importados"], later.counts["actualizados"], later.counts["sin_cambios"]) == (0, 1, 3)
    async with db.transaction(TenantContext.system()) as s:
        day = await s.scalar(select(DailyServiceRollup).where(
            DailyServiceRollup.centre_id == world.centre_id, DailyServiceRollup.entity_id == reniec.id,
            DailyServiceRollup.day == date(2025, 3, 3)))
    assert day.handled == 2


async def test_the_export_reads_from_xlsx_too(db, world):
    book = Workbook()
    book.active.append(HEADER.split(";"))
    book.active.append(export_row(world, "1", world.reniec.entity.short_name, "Duplicado de DNI", "09:00:00",
                                  "09:05:00", "09:05:20", "09:07:00", "M01", "C001", "Terminado").split(";"))
    buffer = io.BytesIO()
    book.save(buffer)
    result = await upload_source(db, coordinator(world), ip=None, centre_id=world.centre_id, fmt="detalle",
                                 data=buffer.getvalue(), filename="detalle.xlsx")
    assert result.counts["importados"] == 1 and result.errors == []


async def test_a_coordinator_of_another_centre_cannot_upload_to_this_one(db, world, tenants):
    other = await build_world(db, tenants)
    with pytest.raises(NotFound):
        await upload_source(db, coordinator(other), ip=None, centre_id=world.centre_id, fmt="detalle",
                            data=export_file(world), filename="detalle.csv")


async def register(db, world, code: str, tenant, module: str, kind: str = "fijo", start: str = "2025-01-01",
                   end: str = "") -> None:
    async with db.transaction(TenantContext.system()) as s:
        advisor_id = await s.scalar(select(Advisor.id).where(Advisor.centre_id == world.centre_id,
                                                             Advisor.code == code))
    if advisor_id is None:
        advisor_id = await advisors.add_advisor(db, coordinator(world), ip=None, centre_id=world.centre_id,
                                                form={"codigo": code, "nombre": f"Asesor {code}",
                                                      "entidad": str(tenant.entity.id)})
    await advisors.assign_advisor(db, coordinator(world), ip=None, centre_id=world.centre_id,
                                  form={"asesor": str(advisor_id), "modulo": module, "tipo": kind, "desde": start,
                                        "hasta": end})


async def test_clock_ins_from_the_zkteco_table_count_for_the_assigned_module_and_its_punctuality(db, world):
    await register(db, world, "1001", world.reniec, "M01")
    await register(db, world, "1002", world.reniec, "M01", kind="itinerante", start="2025-03-04", end="2025-03-04")
    await register(db, world, "2001", world.sunat, "M02")
    data = (b"id,emp_code,punch_time,punch_state,verify_type,terminal_sn\n"
            b"1,1001,2025-03-03 08:10:00,0,1,CKJ1\n"   # on time (08:00 + 15 min)
            b"2,1001,2025-03-03 13:00:00,1,1,CKJ1\n"
            b"3,1001,2025-03-04 07:55:00,0,1,CKJ1\n"   # its module is covered by the itinerant that day
            b"4,1002,2025-03-04 08:20:00,0,1,CKJ1\n"   # the itinerant, late
            b"5,2001,2025-03-03 08:16:00,0,1,CKJ1\n"   # late
            b"6,7777,2025-03-03 08:00:00,0,1,CKJ1\n"   # unknown employee
            b"7,2001,2025-03-03 8h,0,1,CKJ1\n")
    result = await upload_source(db, coordinator(world), ip=None, centre_id=world.centre_id, fmt="zkteco", data=data,
                                 filename="iclock_transaction.csv")
    assert result.counts == {"leidos": 7, "importados": 4, "actualizados": 0, "sin_cambios": 0, "abiertos": 0,
                             "cancelados": 0, "sin_mapeo": 2, "rechazados": 1}
    assert sorted((e.line, e.field) for e in result.errors) == [(4, "modulo"), (7, "emp_code"), (8, "punch_time")]
    async with db.transaction(TenantContext.system()) as s:
        clock = (await s.execute(select(ClockInRow.module_code, ClockInRow.advisor).where(
            ClockInRow.centre_id == world.centre_id).order_by(ClockInRow.at))).all()
        days = {(r.entity_id, r.day): r for r in (await s.scalars(select(DailyEntityRollup).where(
            DailyEntityRollup.centre_id == world.centre_id))).all()}
    assert clock == [("M01", "1001"), ("M02", "2001"), ("M01", "1001"), ("M01", "1002")]
    reniec_mon, reniec_tue = days[(world.reniec.entity.id, date(2025, 3, 3))], days[(world.reniec.entity.id,
                                                                                      date(2025, 3, 4))]
    sunat_mon = days[(world.sunat.entity.id, date(2025, 3, 3))]
    assert (reniec_mon.module_days_occupied, reniec_mon.module_days_punctual) == (1, 1)
    assert (reniec_tue.module_days_occupied, reniec_tue.module_days_punctual) == (1, 0)  # the itinerant's 08:20
    assert (sunat_mon.module_days_checked, sunat_mon.module_days_punctual) == (1, 0)
    again = await upload_source(db, coordinator(world), ip=None, centre_id=world.centre_id, fmt="zkteco", data=data,
                                filename="iclock_transaction.csv")
    assert (again.counts["importados"], again.counts["sin_cambios"]) == (0, 4)


async def test_the_clocks_attendance_log_file_is_imported_too(db, world):
    await register(db, world, "1001", world.reniec, "M01")
    data = b"     1001\t2025-03-03 08:01:00\t0\t1\t0\t0\n     1001\t2025-03-03 12:00:00\t1\t1\t0\t0\nroto\n"
    result = await upload_source(db, coordinator(world), ip=None, centre_id=world.centre_id, fmt="zkteco", data=data,
                                 filename="1_attlog.dat")
    assert (result.counts["leidos"], result.counts["importados"], result.counts["rechazados"]) == (3, 2, 1)


async def test_advisor_assignments_are_validated_in_spanish(db, world):
    advisor_id = await advisors.add_advisor(db, coordinator(world), ip=None, centre_id=world.centre_id,
                                            form={"codigo": "1001", "nombre": "Ana",
                                                  "entidad": str(world.reniec.entity.id)})
    form = {"asesor": str(advisor_id), "modulo": "M02", "tipo": "fijo", "desde": "2025-03-01"}
    with pytest.raises(ValidationFailed, match="asignado a otra entidad") as refused:
        await advisors.assign_advisor(db, coordinator(world), ip=None, centre_id=world.centre_id, form=form)
    assert refused.value.field == "modulo"
    with pytest.raises(ValidationFailed, match="hasta qué día"):
        await advisors.assign_advisor(db, coordinator(world), ip=None, centre_id=world.centre_id,
                                      form={**form, "modulo": "M01", "tipo": "itinerante"})
    with pytest.raises(ValidationFailed, match="no existe en este centro"):
        await advisors.assign_advisor(db, coordinator(world), ip=None, centre_id=world.centre_id,
                                      form={**form, "modulo": "M77"})
    with pytest.raises(ValidationFailed, match="fecha AAAA-MM-DD"):
        await advisors.assign_advisor(db, coordinator(world), ip=None, centre_id=world.centre_id,
                                      form={**form, "modulo": "M01", "desde": "ayer"})
    await advisors.assign_advisor(db, coordinator(world), ip=None, centre_id=world.centre_id,
                                  form={**form, "modulo": "M01"})
    with pytest.raises(Conflict):
        await advisors.assign_advisor(db, coordinator(world), ip=None, centre_id=world.centre_id,
                                      form={**form, "modulo": "M01"})
    with pytest.raises(ValidationFailed, match="no ofrece servicios"):
        await advisors.add_advisor(db, coordinator(world), ip=None, centre_id=world.centre_id,
                                   form={"codigo": "9", "nombre": "X", "entidad": str(world.admin.entity.id)})


async def test_advisors_are_seen_by_their_entity_and_the_centre_not_by_another_entity(db, world, tenants):
    await register(db, world, "1001", world.reniec, "M01")
    await register(db, world, "2001", world.sunat, "M02")
    async with db.transaction(world.reniec.ctx("gestor_entidad")) as s:
        assert (await s.scalars(select(Advisor.code))).all() == ["1001"]
        with pytest.raises(Exception, match="row-level security"):
            s.add(Advisor(centre_id=world.centre_id, entity_id=world.reniec.entity.id, code="X", name="X"))
            await s.flush()
    outsider = await tenants.create(roles=("coordinador_centro",), with_centre=True)
    async with db.transaction(outsider.ctx("coordinador_centro")) as s:
        assert (await s.scalars(select(Advisor.code).where(Advisor.centre_id == world.centre_id))).all() == []
    with pytest.raises(NotFound):
        await advisors.advisors_view(db, Actor(role="coordinador_centro", entity_id=outsider.entity.id,
                                               user_id=outsider.users["coordinador_centro"].id),
                                     ip=None, centre_id=world.centre_id)
    async with db.transaction(TenantContext(role="supervisor_sgp", user_id=None)) as s:
        assert sorted((await s.scalars(select(Advisor.code).where(Advisor.centre_id == world.centre_id))).all()) == [
            "1001", "2001"]


EXPRESS = (b"atencion,ruc_entidad,servicio,asesor,estado,fecha_registro,fecha_inicio_atencion,fecha_seleccion_entidad,"
           b"fecha_seleccion_servicio,fecha_salida_servicio,fecha_retorno_servicio,fecha_fin_atencion\n"
           b"X1,{reniec},DNI,AS1,EN_SERVICIO,2025-03-03 09:00:00,2025-03-03 09:04:00,2025-03-03 09:05:00,"
           b"2025-03-03 09:06:00,2025-03-03 09:06:30,2025-03-03 09:16:30,2025-03-03 09:20:00\n"
           b"X2,{sunat},RUC,AS1,EN_SERVICIO,2025-03-03 10:00:00,2025-03-03 10:02:00,2025-03-03 10:03:00,"
           b"2025-03-03 10:03:30,2025-03-03 10:04:00,2025-03-03 10:30:00,2025-03-03 10:31:00\n"
           b"X3,,,AS1,REGISTRADA,2025-03-03 11:00:00,,,,,,\n"
           b"X4,{reniec},DNI,AS1,EN_SERVICIO,2025-03-03 12:00:00,2025-03-03 11:00:00,,,,,\n")


async def express_world(db, world):
    async with db.transaction(TenantContext.system()) as s:
        await s.execute(update(Centre).where(Centre.id == world.centre_id).values(channel="mac_express"))
    return EXPRESS.replace(b"{reniec}", world.reniec.entity.ruc.encode()).replace(b"{sunat}",
                                                                                 world.sunat.entity.ruc.encode())


async def test_mac_express_records_are_their_own_channel_with_their_own_indicators(db, world):
    data = await express_world(db, world)
    result = await upload_source(db, coordinator(world), ip=None, centre_id=world.centre_id, fmt="mac_express",
                                 data=data, filename="express.csv")
    assert (result.counts["leidos"], result.counts["importados"], result.counts["rechazados"]) == (4, 3, 1)
    assert [(e.line, e.field) for e in result.errors] == [(5, "fecha_inicio_atencion")]
    again = await upload_source(db, coordinator(world), ip=None, centre_id=world.centre_id, fmt="mac_express",
                                data=data, filename="express.csv")
    assert (again.counts["importados"], again.counts["actualizados"], again.counts["sin_cambios"]) == (0, 0, 3)
    changed = data.replace(b"2025-03-03 09:20:00", b"2025-03-03 09:25:00")
    later = await upload_source(db, coordinator(world), ip=None, centre_id=world.centre_id, fmt="mac_express",
                                data=changed, filename="express.csv")
    assert (later.counts["actualizados"], later.counts["sin_cambios"]) == (1, 2)
    board = await express.express_board(db, coordinator(world), ip=None, centre_id=world.centre_id,
                                        month=date(2025, 3, 1))
    rows = {row.entity.short_name if row.entity else None: row for row in board.rows}
    reniec = rows[world.reniec.entity.short_name]
    assert board.total == 3 and board.states == {"REGISTRADA": 1, "EN_SELECCION": 0, "EN_SERVICIO": 2}
    assert (str(reniec.stats["registro_inicio"].mean_minutes), str(reniec.stats["servicio_digital"].mean_minutes),
            str(reniec.stats["total"].mean_minutes)) == ("4.0", "10.0", "25.0")
    # A participant's manager sees only its own entity's attentions.
    mine = await express.express_board(db, manager(world.sunat), ip=None, centre_id=world.centre_id,
                                       month=date(2025, 3, 1))
    assert [row.entity.short_name for row in mine.rows] == [world.sunat.entity.short_name] and mine.total == 1
    async with db.transaction(world.sunat.ctx("gestor_entidad")) as s:
        assert await s.scalar(select(func.count()).select_from(ExpressAttention)) == 1


async def test_each_format_belongs_to_its_kind_of_centre(db, world):
    with pytest.raises(ValidationFailed, match="no es un punto MAC Express"):
        await upload_source(db, coordinator(world), ip=None, centre_id=world.centre_id, fmt="mac_express",
                            data=EXPRESS, filename="express.csv")
    data = await express_world(db, world)
    with pytest.raises(ValidationFailed, match="punto MAC Express"):
        await upload_source(db, coordinator(world), ip=None, centre_id=world.centre_id, fmt="detalle",
                            data=export_file(world), filename="detalle.csv")
    with pytest.raises(ValidationFailed, match="Elija el tipo"):
        await upload_source(db, coordinator(world), ip=None, centre_id=world.centre_id, fmt="otro", data=data,
                            filename="x.csv")


def test_the_command_line_imports_the_national_export_and_the_clock_and_prints_the_counts(world, tmp_path, capsys):
    import json

    from app.cli import main

    path = tmp_path / "detalle.csv"
    path.write_bytes(export_file(world, export_row(world, "1", world.reniec.entity.short_name, "Duplicado de DNI",
                                                   "09:00:00", "09:05:00", "09:05:20", "09:07:00", "M01", "K001",
                                                   "Terminado"),
                                 export_row(world, "2", "OTRA", "Otro", "09:00:00", "", "", "", "", "K002",
                                            "Terminado")))
    code = main(["sla", "import", str(path), "--centro", world.admin.centre.code, "--formato", "detalle-atenciones"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1  # a row was not mapped
    assert (out["leidos"], out["importados"], out["sin_mapeo"]) == (2, 1, 1)
    assert out["errores"][0]["linea"] == 3 and out["lote"]
    clock = tmp_path / "attlog.dat"
    clock.write_bytes(b"9999\t2025-03-03 08:00:00\t0\t1\t0\t0\n")
    code = main(["sla", "import", str(clock), "--centro", world.admin.centre.code, "--formato", "marcaciones-zkteco"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and (out["leidos"], out["sin_mapeo"]) == (1, 1)
    assert main(["sla", "import", str(clock), "--centro", "NO-EXISTE", "--formato", "marcaciones-zkteco"]) == 2
    assert "No existe un centro con código NO-EXISTE" in capsys.readouterr().err


async def test_re_importing_punches_after_an_assignment_changes_puts_each_where_it_now_belongs(db, world):
    from app.sla.models import ModuleAssignment
    from app.tenants.models import CentreModule

    async with db.transaction(TenantContext.system()) as s:
        s.add(CentreModule(centre_id=world.centre_id, code="M03"))
        s.add(ModuleAssignment(centre_id=world.centre_id, entity_id=world.reniec.entity.id, module_code="M03",
                               valid_from=date(2020, 1, 1)))
    await register(db, world, "1001", world.reniec, "M01")
    data = b"     1001\t2025-03-04 08:05:00\t0\t1\t0\t0\n     1001\t2025-03-05 08:05:00\t0\t1\t0\t0\n"
    first = await upload_source(db, coordinator(world), ip=None, centre_id=world.centre_id, fmt="zkteco", data=data,
                                filename="attlog.dat")
    assert first.counts["importados"] == 2
    # From the 5th the advisor sits at M03; on the 4th an itinerant covers M01, so that punch counts for nobody.
    await register(db, world, "1001", world.reniec, "M03", start="2025-03-05")
    await register(db, world, "1002", world.reniec, "M01", kind="itinerante", start="2025-03-04", end="2025-03-04")
    again = await upload_source(db, coordinator(world), ip=None, centre_id=world.centre_id, fmt="zkteco", data=data,
                                filename="attlog.dat")
    assert (again.counts["importados"], again.counts["actualizados"], again.counts["sin_mapeo"]) == (0, 1, 1)
    async with db.transaction(TenantContext.system()) as s:
        clock = (await s.execute(select(ClockInRow.module_code).where(ClockInRow.centre_id == world.centre_id))).all()
        fourth = await s.scalar(select(DailyEntityRollup).where(
            DailyEntityRollup.centre_id == world.centre_id, DailyEntityRollup.entity_id == world.reniec.entity.id,
            DailyEntityRollup.day == date(2025, 3, 4)))
    assert clock == [("M03",)]
    assert fourth.module_days_occupied == 0  # M01 and M03 assigned to the entity, no counted punch that day


async def test_a_participant_reads_only_its_own_assignments_and_cannot_write_mac_express_attentions(db, world):
    from datetime import datetime

    from app.sla.calendar import LIMA
    from app.sla.models import AdvisorAssignment

    await register(db, world, "1001", world.reniec, "M01")
    await register(db, world, "2001", world.sunat, "M02")
    async with db.transaction(world.sunat.ctx("gestor_entidad")) as s:
        assert (await s.scalars(select(AdvisorAssignment.module_code))).all() == ["M02"]
    with pytest.raises(Exception, match="row-level security"):
        async with db.transaction(world.sunat.ctx("gestor_entidad")) as s:
            s.add(ExpressAttention(centre_id=world.centre_id, attention_id="Z1", entity_id=world.sunat.entity.id,
                                   state="REGISTRADA", registered_at=datetime(2025, 3, 3, 9, tzinfo=LIMA)))
            await s.flush()
