"""A statement's PDF, CSV and XLSX carry exactly the allocation engine's figures, and they add up.

The statement is built from a real run of the engine (app.billing_reports.sample: four participants, a mix key,
a mid-month joiner, vacancy borne by the administering entity, a fixed split, a 0.01 item) plus an adjustment
and the fee for use of premises; the documents are read back the way their users read them (pypdf text
extraction, the csv module, openpyxl) and compared with the engine's lines to the céntimo.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal

import pypdf
from openpyxl import load_workbook

from app.billing_reports import exports
from app.billing_reports.pdf import render_statement
from app.billing_reports.sample import MIGRACIONES, RENIEC, SIS, SUNAT, sample_allocation, sample_statement
from app.billing_reports.statement import (
    KIND_REPARTO,
    Replacement,
    by_category,
    fecha_larga,
    soles,
    totals,
)

MONEY = re.compile(r"^-?S/ [\d,]+\.\d{2}$")
PERCENT = re.compile(r"^\d+\.\d{4} %$")


def money(text: str) -> Decimal:
    return Decimal(text.replace("S/ ", "").replace(",", ""))


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def detail_rows(text: str) -> list[tuple[Decimal, Decimal]]:
    """(percentage, amount) of every row of the category tables, read from the PDF text in order."""
    section = text.split("DETALLE POR CATEGORÍA", 1)[1].split("ANEXO · DERIVACIÓN", 1)[0]
    lines = [ln.strip() for ln in section.splitlines()]
    rows = []
    for here, after in zip(lines, lines[1:], strict=False):
        if PERCENT.match(here) and MONEY.match(after):
            rows.append((Decimal(here[:-2]), money(after)))
    return rows


def summary_value(text: str, label: str) -> Decimal:
    match = re.search(re.escape(label) + r"\s*\n\s*(-?S/ [\d,]+\.\d{2})", text)
    assert match, f"«{label}» is not in the PDF"
    return money(match.group(1))


def test_amounts_are_written_as_peruvians_read_them_and_dates_in_spanish():
    assert soles(Decimal("1234.5")) == "S/ 1,234.50"
    assert soles(Decimal("-48.23")) == "-S/ 48.23"
    assert soles(Decimal("1234567.891")) == "S/ 1,234,567.89"
    assert fecha_larga(date(2026, 11, 5)) == "5 de noviembre de 2026"


def test_the_pdf_shows_every_line_of_the_allocation_to_the_centimo_and_the_summary_adds_up():
    result = sample_allocation()
    statement = sample_statement(RENIEC, result=result)
    text = pdf_text(render_statement(statement))

    ordered = [ln for _c, _l, group in by_category(statement.lines) for ln in group]
    assert detail_rows(text) == [(ln.percentage, ln.amount) for ln in ordered]
    engine_lines = [ln for ln in result.lines if ln.ruc == RENIEC.ruc]
    assert [ln.amount for ln in statement.lines if ln.kind == KIND_REPARTO] == [ln.amount for ln in engine_lines]

    common = summary_value(text, "Costos comunes (cofinanciamiento)")
    fee = summary_value(text, "Tarifa por uso del local")
    adjustments = summary_value(text, "Ajustes de periodos anteriores")
    total = summary_value(text, "TOTAL DEL PERIODO")
    assert common == result.totals()[RENIEC.ruc] == Decimal("31389.02")
    assert (fee, adjustments) == (Decimal("1500.00"), Decimal("-48.23"))
    assert total == common + fee + adjustments == sum(amount for _p, amount in detail_rows(text))


def test_the_pdf_header_names_the_parties_period_status_number_and_date():
    statement = sample_statement(SUNAT, status="preliminar")
    text = pdf_text(render_statement(statement))
    for expected in ("Centro MAC Callao", "Gobierno Regional del Callao", "20505703554", "20131312955",
                     "Octubre 2026 (01/10/2026 al 31/10/2026)", "PRELIMINAR", statement.number,
                     "5 de noviembre de 2026"):
        assert expected in text
    assert "DEFINITIVO" not in text
    assert "DEFINITIVO" in pdf_text(render_statement(sample_statement(SUNAT, status="definitivo")))


def test_every_page_has_its_number_the_verification_code_and_a_qr():
    statement = sample_statement(RENIEC)
    reader = pypdf.PdfReader(io.BytesIO(render_statement(statement)))
    pages = len(reader.pages)
    assert pages >= 3
    for n, page in enumerate(reader.pages, 1):
        text = page.extract_text()
        assert f"Página {n} de {pages}" in text
        assert f"Código de verificación: {statement.verification_code}" in text
        assert statement.verification_url in text


def test_the_appendix_gives_each_items_inputs_and_rounding():
    result = sample_allocation()
    statement = sample_statement(SIS, result=result)  # SIS joined on 11 October: 21 of 31 days
    text = pdf_text(render_statement(statement))
    appendix = text.split("ANEXO · DERIVACIÓN", 1)[1]
    assert "SGP-2026.1" in appendix
    assert "21 de 31" in appendix
    for line in statement.lines:
        if line.kind == KIND_REPARTO:
            assert line.exact[:12] in appendix.replace("\n", "")


def test_a_corrected_statement_says_which_one_it_replaces_and_why():
    statement = sample_statement(RENIEC, version=2)
    statement = statement.__class__(**{**statement.__dict__, "replaces": Replacement(
        "EC-2026-10-CALLAO-20295613620-v1", "Se corrigió el área registrada de la entidad")})
    text = pdf_text(render_statement(statement)).replace("\n", " ")
    assert "reemplaza al N.º EC-2026-10-CALLAO-20295613620-v1" in text
    assert "Se corrigió el área registrada de la entidad" in text


def test_the_same_data_always_gives_the_same_pdf():
    assert render_statement(sample_statement(MIGRACIONES)) == render_statement(sample_statement(MIGRACIONES))


def test_the_csv_has_one_row_per_entity_and_item_with_the_accountants_columns_and_the_pdfs_total():
    result = sample_allocation()
    statements = [sample_statement(p, result=result) for p in (RENIEC, SUNAT, MIGRACIONES, SIS)]
    data = exports.to_csv(statements)
    assert data.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    header, body, total_row = table[0], table[1:-1], table[-1]
    assert header[:12] == ["RUC", "Entidad", "Centro", "Periodo", "Categoría", "Ítem", "Clave", "Cantidad",
                           "Cantidad total", "Participación (%)", "Importe (S/)", "Referencia de ajuste"]
    amount = header.index("Importe (S/)")
    assert len(body) == sum(len(s.lines) for s in statements)
    for s in statements:
        mine = [row for row in body if row[0] == s.participant.ruc]
        assert [Decimal(row[amount]) for row in mine] == [ln.amount for ln in s.lines]
        assert {row[2] for row in mine} == {"Centro MAC Callao"} and {row[3] for row in mine} == {"2026-10"}
        assert sum(Decimal(row[amount]) for row in mine) == totals(s.lines).total
    # The engine's lines for the four participants (the vacancy goes to the administering entity, which has
    # no statement here) plus each one's adjustment and fee.
    engine = sum(ln.amount for ln in result.lines if ln.ruc != "20505703554")
    extras = sum(ln.amount for s in statements for ln in s.lines if ln.kind != KIND_REPARTO)
    assert total_row[0] == "TOTAL"
    assert Decimal(total_row[amount]) == sum(Decimal(row[amount]) for row in body) == engine + extras
    adjustment = next(row for row in body if row[0] == RENIEC.ruc and row[4] == "Ajustes de periodos anteriores")
    assert adjustment[11].startswith("Agosto 2026") and Decimal(adjustment[amount]) == Decimal("-48.23")


def test_the_xlsx_stores_numbers_as_numbers_with_the_same_rows_and_totals_as_the_csv():
    result = sample_allocation()
    statements = [sample_statement(p, result=result) for p in (RENIEC, SUNAT)]
    book = load_workbook(io.BytesIO(exports.to_xlsx(statements)))
    detail = list(book["Detalle"].iter_rows(values_only=True))
    csv_rows = list(csv.reader(io.StringIO(exports.to_csv(statements).decode("utf-8-sig"))))
    assert [str(v) for v in detail[0]] == csv_rows[0]
    amount = detail[0].index("Importe (S/)")
    share = detail[0].index("Participación (%)")
    for xrow, crow in zip(detail[1:], csv_rows[1:], strict=True):
        assert isinstance(xrow[amount], int | float)
        assert Decimal(str(xrow[amount])) == Decimal(crow[amount])
    for xrow in detail[1:-1]:
        assert isinstance(xrow[share], int | float)
    assert book["Detalle"].cell(row=2, column=amount + 1).number_format == exports.AMOUNT_FORMAT
    summary = list(book["Resumen"].iter_rows(values_only=True))
    for s, row in zip(statements, summary[1:], strict=True):
        t = totals(s.lines)
        assert [Decimal(str(v)) for v in row[7:]] == [t.common_costs, t.fee, t.adjustments, t.total]
    assert Decimal(str(detail[-1][amount])) == sum(totals(s.lines).total for s in statements)


def test_the_consolidated_pdf_lists_each_statement_and_the_grand_total_of_the_csv():
    from app.billing_reports.pdf import render_consolidated

    result = sample_allocation()
    statements = [sample_statement(p, result=result) for p in (RENIEC, SUNAT, SIS)]
    text = pdf_text(render_consolidated(statements, title="Tres entidades", subtitle="Octubre 2026",
                                        issued_on=date(2026, 11, 5)))
    for s in statements:
        assert s.number in text.replace("\n", "")
        assert soles(totals(s.lines).total) in text
    total = re.search(r"(S/ [\d,]+\.\d{2})\s*$", text.split("Documento informativo")[0].strip())
    assert money(total.group(1)) == exports.grand_total(statements) == sum(totals(s.lines).total for s in statements)


def test_the_fee_for_use_of_premises_is_the_monthly_fee_prorated_by_the_days_in_force_half_up():
    from app.billing_reports.generation import fee_line

    whole = fee_line(Decimal("1500.00"), date(2026, 1, 1), None, date(2026, 10, 1), date(2026, 10, 31), "ADH-1")
    assert (whole.amount, whole.quantity, whole.total_quantity, whole.kind) == (Decimal("1500.00"), 31, 31, "tarifa")
    # From 11 October: 21 of 31 days, 1500 × 21 / 31 = 1016.129… → 1016.13.
    joiner = fee_line(Decimal("1500.00"), date(2026, 10, 11), None, date(2026, 10, 1), date(2026, 10, 31), "ADH-2")
    assert joiner.amount == Decimal("1016.13") and joiner.steps[0].days == "21 de 31"
    assert "prorrateada" in joiner.key and joiner.exact.startswith("1016.129032")
