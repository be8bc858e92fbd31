"""The statement for the accountant: CSV and XLSX with one row per entity × item. Pure: data in, bytes out.

Both formats carry exactly the lines of the PDF (the same :class:`StatementLine` objects) and end with a total
row equal to the PDF's total. Several statements (a consolidated export across centres, a year, the SGP's view)
are simply their rows one after another, with one total at the end.

* CSV: UTF-8 with BOM (so spreadsheet programs read the accents), comma-separated, a header row, decimal
  point and no thousands separator so every number parses as a number.
* XLSX: sheet «Detalle» with the same rows, numbers stored as numbers (amounts with the format
  ``"S/ "#,##0.00``), and sheet «Resumen» with one row per statement (common costs, fee, adjustments, total).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from app.billing_reports.statement import StatementData, StatementLine, totals
from app.documents.exports import append_row, csv_bytes

COLUMNS = ("RUC", "Entidad", "Centro", "Periodo", "Categoría", "Ítem", "Clave", "Cantidad", "Cantidad total",
           "Participación (%)", "Importe (S/)", "Referencia de ajuste", "Estado de cuenta", "Estado")
TOTAL_LABEL = "TOTAL"
SUMMARY_COLUMNS = ("Estado de cuenta", "Versión", "RUC", "Entidad", "Centro", "Periodo", "Estado",
                   "Costos comunes (S/)", "Tarifa por uso del local (S/)", "Ajustes (S/)", "Total (S/)")


def rows(statements: Sequence[StatementData]) -> list[tuple]:
    """The detail rows (Decimals and strings) for the statements, in order, without the total row."""
    out: list[tuple] = []
    for s in statements:
        for line in s.lines:
            out.append(_row(s, line))
    return out


def _row(s: StatementData, line: StatementLine) -> tuple:
    return (s.participant.ruc, s.participant.name, s.centre_name, s.period_code, line.category_label, line.item,
            line.key, line.quantity, line.total_quantity, line.percentage, line.amount, line.adjustment_ref,
            s.number, s.status)


def grand_total(statements: Iterable[StatementData]) -> Decimal:
    return sum((totals(s.lines).total for s in statements), Decimal("0.00"))


def to_csv(statements: Sequence[StatementData]) -> bytes:
    total: list = [""] * len(COLUMNS)
    total[0] = TOTAL_LABEL
    total[COLUMNS.index("Importe (S/)")] = grand_total(statements)
    return csv_bytes(COLUMNS, [*rows(statements), total])


AMOUNT_FORMAT = '"S/ "#,##0.00;-"S/ "#,##0.00'
NUMBER_FORMAT = "#,##0.####"
PERCENT_FORMAT = "0.0000"


def to_xlsx(statements: Sequence[StatementData]) -> bytes:
    wb = Workbook()
    detail = wb.active
    detail.title = "Detalle"
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="ECE7EA")
    append_row(detail, COLUMNS)
    for cell in detail[1]:
        cell.font, cell.fill = bold, fill
    amount_col = COLUMNS.index("Importe (S/)") + 1
    numeric = {COLUMNS.index("Cantidad") + 1: NUMBER_FORMAT, COLUMNS.index("Cantidad total") + 1: NUMBER_FORMAT,
               COLUMNS.index("Participación (%)") + 1: PERCENT_FORMAT, amount_col: AMOUNT_FORMAT}
    for row in rows(statements):
        append_row(detail, row)  # Decimals are written as numbers, from their exact decimal text
        for col, fmt in numeric.items():
            detail.cell(row=detail.max_row, column=col).number_format = fmt
    append_row(detail, [TOTAL_LABEL] + [None] * (amount_col - 2) + [grand_total(statements)])
    last = detail.max_row
    for cell in detail[last]:
        cell.font = bold
    detail.cell(row=last, column=amount_col).number_format = AMOUNT_FORMAT
    widths = (13, 40, 28, 9, 24, 40, 30, 12, 14, 14, 16, 36, 40, 11)
    for i, width in enumerate(widths, 1):
        detail.column_dimensions[get_column_letter(i)].width = width
    detail.freeze_panes = "A2"

    summary = wb.create_sheet("Resumen")
    append_row(summary, SUMMARY_COLUMNS)
    for cell in summary[1]:
        cell.font, cell.fill = bold, fill
    for s in statements:
        t = totals(s.lines)
        append_row(summary, [s.number, s.version, s.participant.ruc, s.participant.name, s.centre_name, s.period_code,
                        s.status, t.common_costs, t.fee, t.adjustments, t.total])
        for col in range(8, 12):
            summary.cell(row=summary.max_row, column=col).number_format = AMOUNT_FORMAT
    for i, width in enumerate((40, 8, 13, 40, 28, 9, 11, 18, 18, 14, 16), 1):
        summary.column_dimensions[get_column_letter(i)].width = width
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
