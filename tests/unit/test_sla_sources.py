"""The source formats, read without a database: the national «detalle de atenciones» export, ZKTeco punches
(iclock_transaction and attlog) and their modules, and MAC Express records and indicators."""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import Workbook

from app.errors import ValidationFailed
from app.sla.sources import detalle_atenciones as detalle
from app.sla.sources import mac_express, zkteco
from app.sla.sources.common import LIMA, csv_rows, normalise, table_rows

HEADER = ("IDENTIFICADOR UNICO;NOMBRE MAC;NOMBRE ENTIDAD;SERVICIO;HORA DE LLEGADA;HORA DE LLAMADO;TIEMPO ESPERA;"
          "HORA INICIO;TIEMPO PROMEDIO;FIN DE ATENCION;TIEMPO TOTAL;N° DE MODULO;NUMERO DE TICKET;ESTADO ATENCION;"
          "FECHA;MODALIDAD;TIPO DE ATENCION;N° DE DOCUMENTO")
CATALOGUE = detalle.Catalogue.build("Centro MAC Callao", "MAC-CALLAO", [
    ("20295613620", "Registro Nacional de Identificación y Estado Civil", "RENIEC", "DNI-DUP", "Duplicado de DNI"),
    ("20131312955", "Superintendencia Nacional de Aduanas y de Administración Tributaria", "SUNAT", "RUC-INS",
     "Inscripción al RUC"),
])


def row(ident, entity, service, arrival, called, wait, start, handling, end, total, module, ticket, state,
        day="03/03/2025", document="45781236", mac="MAC CALLAO"):
    return ";".join([ident, mac, entity, service, arrival, called, wait, start, handling, end, total, module, ticket,
                     state, day, "PRESENCIAL", "TRAMITE", document])


def parse(*lines: str) -> detalle.Parsed:
    data = ("\n".join([HEADER, *lines]) + "\n").encode()
    return detalle.parse(table_rows(data, "detalle.csv"), CATALOGUE)


def by_line(parsed: detalle.Parsed) -> dict[int, tuple]:
    return {r[0]: r[1:] for r in parsed.records}


def test_names_match_without_case_accents_or_spacing():
    assert normalise("  Atención   CERRADA ") == normalise("atencion cerrada") == "atencion cerrada"
    assert normalise("Error de selección") == "error de seleccion"


def test_each_state_of_the_export_becomes_what_the_novo_rules_say():
    parsed = parse(
        row("1", "RENIEC", "Duplicado de DNI", "08:05:00", "08:15:00", "00:10:00", "08:15:30", "00:07:30",
            "08:23:00", "00:18:00", "M01", "A001", "Terminado"),
        row("2", "reniec", "DUPLICADO DE DNI", "08:06:00", "08:20:00", "00:14:00", "08:20:10", "", "", "", "M01",
            "A002", "Atención Cerrada"),
        row("3", "RENIEC", "Duplicado de DNI", "08:07:00", "08:30:00", "00:23:00", "08:30:05", "", "08:31:00", "",
            "M01", "A003", "Abandono"),
        row("4", "RENIEC", "Duplicado de DNI", "08:08:00", "", "", "", "", "", "", "", "A004", "Cancelado"),
        row("5", "RENIEC", "Duplicado de DNI", "08:09:00", "", "", "", "", "", "", "", "A005", "En espera"),
        row("6", "RENIEC", "Duplicado de DNI", "08:09:30", "08:40:00", "", "", "", "", "", "M01", "A006", "Llamando"),
        row("7", "RENIEC", "Duplicado de DNI", "08:09:40", "08:40:00", "", "08:41:00", "", "", "", "M01", "A007",
            "Atención Iniciada"),
    )
    records = by_line(parsed)
    assert records[2] == ("20250303-A001", "1", "20295613620", "DNI-DUP", "M01", None, "2025-03-03T08:05:00-05:00",
                          "2025-03-03T08:15:00-05:00", "2025-03-03T08:15:30-05:00", "2025-03-03T08:23:00-05:00",
                          "atendido")
    assert records[3][-1] == "atendido" and records[3][-2] is None  # closed without an end: no attention time
    assert records[4][-1] == "abandonado" and records[4][7] == "2025-03-03T08:30:00-05:00"  # the call is kept
    assert records[4][8] is None and records[4][9] is None  # an absent citizen is never started nor ended
    assert set(records) == {2, 3, 4}
    assert (parsed.read, parsed.open, parsed.cancelled, parsed.unmapped) == (7, 3, 1, 0)
    assert parsed.errors == [] and parsed.warnings == []


def test_a_selection_error_is_continued_by_the_next_row_of_the_same_ticket_across_entities():
    parsed = parse(
        row("10", "RENIEC", "Duplicado de DNI", "09:00:00", "09:05:00", "00:05:00", "09:05:20", "00:01:40",
            "09:07:00", "00:07:00", "M01", "B010", "Error de selección"),
        row("11", "SUNAT", "Inscripción al RUC", "09:07:00", "09:20:00", "00:13:00", "09:20:30", "00:09:30",
            "09:30:00", "00:23:00", "M02", "B010", "Terminado"),
        # Later the same number again, with no transfer before it: another ticket.
        row("12", "SUNAT", "Inscripción al RUC", "15:00:00", "15:01:00", "00:01:00", "15:01:10", "00:03:50",
            "15:05:00", "00:05:00", "M02", "B010", "Terminado"),
    )
    records = by_line(parsed)
    assert [records[n][:4] for n in (2, 3, 4)] == [("20250303-B010", "1", "20295613620", "DNI-DUP"),
                                                   ("20250303-B010", "2", "20131312955", "RUC-INS"),
                                                   ("20250303-B010-2", "1", "20131312955", "RUC-INS")]
    assert records[2][-1] == "derivado" and records[3][6] == "2025-03-03T09:07:00-05:00"  # waits from its arrival


def test_durations_are_recomputed_and_a_mismatch_is_a_warning_not_a_rejection():
    parsed = parse(row("1", "RENIEC", "Duplicado de DNI", "08:05:00", "08:15:00", "00:12:00", "08:15:30", "00:07:30",
                       "08:23:00", "xx", "M01", "A001", "Terminado", day="2025-03-03"))
    assert len(parsed.records) == 1
    reasons = {w.field: w.reason for w in parsed.warnings}
    assert reasons["TIEMPO ESPERA"] == ("El archivo dice 00:12:00 y las horas dan 00:10:00 (HORA DE LLAMADO − "
                                        "HORA DE LLEGADA); se usan las horas.")
    assert "«xx» no es una duración" in reasons["TIEMPO TOTAL"]


def test_broken_rows_are_reported_by_line_and_the_document_number_never_appears():
    parsed = parse(
        row("1", "RENIEC", "Duplicado de DNI", "08:05:00", "08:15:00", "", "", "", "", "", "M01", "A001",
            "Terminado", day="31/02/2025"),
        row("2", "RENIEC", "Duplicado de DNI", "8h05", "", "", "", "", "", "", "M01", "A002", "Terminado"),
        row("3", "MIGRACIONES", "Pasaporte", "08:05:00", "08:10:00", "", "08:11:00", "", "08:20:00", "", "M01",
            "A003", "Terminado"),
        row("4", "RENIEC", "Duplicado de DNI", "08:05:00", "", "", "", "", "", "", "M01", "A004", "Perdido"),
        row("5", "RENIEC", "Duplicado de DNI", "08:05:00", "", "", "", "", "", "", "M01", "A005", "Terminado",
            mac="MAC LIMA NORTE"),
        row("6", "RENIEC", "Duplicado de DNI", "08:05:00", "", "", "", "", "", "", "M01", "", "Terminado"),
    )
    assert parsed.records == []
    assert [(line, column) for line, column, _r in parsed.errors] == [
        (2, "FECHA"), (3, "HORA DE LLEGADA"), (4, "SERVICIO"), (5, "ESTADO ATENCION"), (6, "NOMBRE MAC"),
        (7, "NUMERO DE TICKET")]
    assert parsed.unmapped == 1
    assert "«Pasaporte» de «MIGRACIONES»" in parsed.errors[2][2]
    assert not any("45781236" in reason for _l, _c, reason in parsed.errors)


def test_a_file_without_the_export_columns_is_refused_naming_them():
    with pytest.raises(ValidationFailed, match="faltan las columnas .*ESTADO ATENCION"):
        detalle.parse(table_rows(b"ticket,servicio\nA1,DNI\n", "x.csv"), CATALOGUE)


def test_an_xlsx_export_reads_like_the_csv_with_spreadsheet_dates_and_times():
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER.split(";"))
    sheet.append(["1", "Centro MAC Callao", "RENIEC", "Duplicado de DNI", datetime(2025, 3, 3, 8, 5).time(),
                  "08:15:00", "00:10:00", "08:15:30", "00:07:30", "08:23:00", "00:18:00", "M01", "A001", "Terminado",
                  datetime(2025, 3, 3), "PRESENCIAL", "TRAMITE", 45781236])
    buffer = io.BytesIO()
    book.save(buffer)
    parsed = detalle.parse(table_rows(buffer.getvalue(), "detalle.xlsx"), CATALOGUE)
    assert [r[1:4] for r in parsed.records] == [("20250303-A001", "1", "20295613620")]
    assert parsed.records[0][7] == "2025-03-03T08:05:00-05:00" and parsed.warnings == []


def test_an_xlsx_longer_than_the_row_limit_is_refused_while_streaming():
    from app.sla.sources.common import xlsx_rows

    book = Workbook()
    for n in range(12):
        book.active.append([n])
    buffer = io.BytesIO()
    book.save(buffer)
    with pytest.raises(ValidationFailed, match="más de 10 filas"):
        list(xlsx_rows(buffer.getvalue(), max_rows=10))


# ------------------------------------------------------------------------------------------- ZKTeco ---

ICLOCK = (b"id,emp_code,punch_time,punch_state,verify_type,work_code,terminal_sn,terminal_alias,area_alias\n"
          b"1,1001,2025-03-03 07:58:12,0,1,0,CKJ4201,Reloj 1,MAC\n"
          b"2,1001,2025-03-03 13:02:00,1,1,0,CKJ4201,Reloj 1,MAC\n"
          b"3,1002,2025-03-03 08:17:00+00:00,0,1,0,CKJ4201,Reloj 1,MAC\n"
          b"4,,2025-03-03 08:00:00,0,1,0,CKJ4201,Reloj 1,MAC\n"
          b"5,1003,03/03/2025 08:00,0,1,0,CKJ4201,Reloj 1,MAC\n")
ATTLOG = (b"     1001\t2025-03-03 07:58:12\t0\t1\t0\t0\n"
          b"     1002\t2025-03-04 08:20:05\t1\t15\t0\t0\n"
          b"basura sin tabulador\n"
          b"     1003\t2025-13-01 08:00:00\t0\t1\t0\t0\n")


def test_iclock_transaction_rows_are_read_naive_times_as_lima_and_broken_ones_reported():
    punches = zkteco.read_punches(ICLOCK)
    assert punches.layout == "iclock_transaction" and punches.read == 5
    assert [(p.line, p.employee, p.at) for p in punches.punches] == [
        (2, "1001", datetime(2025, 3, 3, 7, 58, 12, tzinfo=LIMA)),
        (3, "1001", datetime(2025, 3, 3, 13, 2, tzinfo=LIMA)),
        (4, "1002", datetime.fromisoformat("2025-03-03T08:17:00+00:00"))]
    assert [(line, column) for line, column, _r in punches.errors] == [(5, "emp_code"), (6, "punch_time")]


def test_the_clocks_attendance_log_is_read_and_broken_lines_reported():
    punches = zkteco.read_punches(ATTLOG)
    assert punches.layout == "attlog" and punches.read == 4
    assert [(p.employee, p.at.isoformat()) for p in punches.punches] == [
        ("1001", "2025-03-03T07:58:12-05:00"), ("1002", "2025-03-04T08:20:05-05:00")]
    assert [(line, column) for line, column, _r in punches.errors] == [(3, "linea"), (4, "fecha_hora")]


def test_an_itinerant_assignment_wins_on_its_day_over_the_fixed_one():
    assignments = [zkteco.Assignment("1001", "M01", "fijo", date(2025, 1, 1)),
                   zkteco.Assignment("1002", "M02", "fijo", date(2025, 1, 1)),
                   zkteco.Assignment("1002", "M01", "itinerante", date(2025, 3, 4), date(2025, 3, 4))]
    assert zkteco.module_of("1001", date(2025, 3, 3), assignments) == ("M01", "")
    assert zkteco.module_of("1002", date(2025, 3, 4), assignments) == ("M01", "")  # roving that day
    assert zkteco.module_of("1002", date(2025, 3, 5), assignments) == ("M02", "")
    module, why = zkteco.module_of("1001", date(2025, 3, 4), assignments)
    assert module is None and "itinerante 1002" in why  # its module is covered that day
    module, why = zkteco.module_of("1001", date(2024, 12, 31), assignments)
    assert module is None and "no tiene módulo asignado el 31/12/2024" in why
    advisors = {"1001": zkteco.AdvisorRef("1001", "20295613620"), "1002": zkteco.AdvisorRef("1002", "20131312955")}
    punches = [zkteco.Punch(2, "1002", datetime(2025, 3, 4, 7, 59, tzinfo=LIMA)),
               zkteco.Punch(3, "9999", datetime(2025, 3, 4, 8, 0, tzinfo=LIMA))]
    resolved = zkteco.resolve(punches, advisors, assignments)
    assert resolved.records == [(2, "20131312955", "M01", "1002", "2025-03-04T07:59:00-05:00")]
    assert resolved.unmapped[0][:2] == (3, "emp_code")


# -------------------------------------------------------------------------------------- MAC Express ---

EXPRESS = (b"atencion,ruc_entidad,servicio,asesor,estado,fecha_registro,fecha_inicio_atencion,fecha_seleccion_entidad,"
           b"fecha_seleccion_servicio,fecha_salida_servicio,fecha_retorno_servicio,fecha_fin_atencion\n"
           b"X1,20295613620,DNI-DUP,AS1,EN_SERVICIO,2025-03-03 09:00:00,2025-03-03 09:04:00,2025-03-03 09:05:00,"
           b"2025-03-03 09:06:00,2025-03-03 09:06:30,2025-03-03 09:16:30,2025-03-03 09:20:00\n"
           b"X2,,,AS1,REGISTRADA,2025-03-03 09:10:00,,,,,,\n"
           b"X3,20295613620,DNI-DUP,AS1,EN_SERVICIO,2025-03-03 09:30:00,2025-03-03 09:20:00,,,,,\n"
           b"X4,20295613620,PASAPORTE,AS1,EN_SELECCION,2025-03-03 09:30:00,2025-03-03 09:31:00,,,,,\n"
           b"X5,,,AS1,TERMINADA,2025-03-03T09:40:00-05:00,,,,,,\n")


def test_mac_express_records_are_checked_in_order_of_their_moments():
    rows = list(mac_express.csv_dicts(csv_rows(EXPRESS)))
    checked = mac_express.check(rows, {("20295613620", "DNI-DUP")})
    assert [(n, r.attention_id, r.state) for n, r in checked.records] == [(2, "X1", "EN_SERVICIO"),
                                                                         (3, "X2", "REGISTRADA")]
    assert checked.records[0][1].moments["fecha_registro"] == datetime(2025, 3, 3, 9, 0, tzinfo=LIMA)
    assert [(line, column) for line, column, _r in checked.errors] == [
        (4, "fecha_inicio_atencion"), (5, "servicio"), (6, "estado")]


def test_mac_express_indicators_are_means_and_medians_in_minutes_per_entity():
    def at(h, m):  # noqa: ANN001, ANN202
        return datetime(2025, 3, 3, h, m, tzinfo=LIMA)

    attentions = [
        mac_express.Attention("RENIEC", {"fecha_registro": at(9, 0), "fecha_inicio_atencion": at(9, 4),
                                         "fecha_salida_servicio": at(9, 6), "fecha_retorno_servicio": at(9, 16),
                                         "fecha_fin_atencion": at(9, 20)}),
        mac_express.Attention("RENIEC", {"fecha_registro": at(10, 0), "fecha_inicio_atencion": at(10, 1),
                                         "fecha_salida_servicio": at(10, 2), "fecha_retorno_servicio": at(10, 7),
                                         "fecha_fin_atencion": None}),
        mac_express.Attention(None, {"fecha_registro": at(11, 0)}),
    ]
    result = mac_express.indicators(attentions)
    reniec = result["RENIEC"]
    assert reniec["registro_inicio"] == mac_express.Stat(2, Decimal("2.5"), Decimal("2.5"))
    assert reniec["servicio_digital"] == mac_express.Stat(2, Decimal("7.5"), Decimal("7.5"))
    assert reniec["total"] == mac_express.Stat(1, Decimal("20.0"), Decimal("20.0"))
    assert result[None]["total"] == mac_express.Stat(0, None, None)
