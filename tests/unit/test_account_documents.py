"""The account statement's documents carry the figures of the balance rules, and text from users can neither
run as a spreadsheet formula nor break the PDF's markup."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pypdf
from openpyxl import load_workbook

from app.billing_reports.account_documents import (
    AccountStatement,
    NoDebtData,
    PaymentLine,
    account_csv,
    account_xlsx,
    render_account_statement,
    render_no_debt,
)
from app.billing_reports.balances import PaymentIn, StatementIn, balances
from app.billing_reports.statement import Party

RUC, CENTRE = "20295613620", "MAC-CALLAO"


def document(reference: str = "Resolución =1+1 <b>x</b>") -> AccountStatement:
    result = balances(date(2027, 1, 5), [StatementIn("EC-1", RUC, CENTRE, "2026-10", date(2026, 11, 20),
                                                     date(2026, 12, 20), Decimal("100.00"))],
                      [PaymentIn("P1", RUC, CENTRE, date(2026, 11, 25), Decimal("40.00"))])
    line = PaymentLine("P1", date(2026, 11, 25), "Transferencia financiera", reference, Decimal("40.00"),
                       (("EC-1", Decimal("40.00")),), Decimal("0.00"))
    return AccountStatement("Centro MAC Callao", CENTRE, Party("GR Callao", "20505703554"), Party("RENIEC", RUC),
                            date(2027, 1, 5), datetime(2027, 1, 5, 15, tzinfo=UTC), result, (line,), "CTA-1", "u")


def test_the_csv_and_xlsx_carry_the_balance_and_neutralise_formulas():
    doc = document("=HYPERLINK(\"http://x\")")
    rows = list(csv.reader(io.StringIO(account_csv(doc).decode("utf-8-sig"))))
    assert ["Saldo pendiente", "60.00"] in rows and ["Pagos aplicados", "40.00"] in rows
    payment = next(r for r in rows if r and r[0] == "P1")
    assert payment[3].startswith("'=")
    book = load_workbook(io.BytesIO(account_xlsx(doc)))
    cells = book["Pagos"][2]
    # XLSX: the text exactly as typed, in a string cell with Excel's quote prefix (never a formula).
    assert (cells[3].value, cells[3].data_type, cells[3].quotePrefix) == ("=HYPERLINK(\"http://x\")", "s", True)
    assert cells[4].value == 40
    assert [c.value for c in book["Estados de cuenta"][2]][7] == 60


def test_the_pdfs_print_user_text_literally():
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(render_account_statement(document()))).pages)
    assert "<b>x</b>" in text and "S/ 60.00" in text
    constancia = render_no_debt(NoDebtData("Centro MAC Callao", CENTRE, Party("GR <Callao>", "20505703554"),
                                           Party("RENIEC & co", RUC), date(2027, 1, 5),
                                           datetime(2027, 1, 5, 15, tzinfo=UTC), Decimal("100.00"), Decimal("100.00"),
                                           Decimal("0.00"), 1, "CNA-TEST-0001", "https://mac/verificar/CNA-TEST-0001"))
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(constancia)).pages)
    assert "CONSTANCIA DE NO ADEUDO" in text and "RENIEC & co" in text and "GR <Callao>" in text
