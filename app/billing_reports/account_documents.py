"""The account statement (estado de cuenta corriente: every statement, every payment and how it was applied,
the balance and its ageing) as PDF, CSV and XLSX, and the constancia de no adeudo as PDF. Pure: data in, bytes
out — no database, no clock (the cut-off and the issue moment are data).

Every text put in a reportlab Paragraph is escaped (:mod:`app.documents.pdf_text`), and the CSV and XLSX are
written by the platform's one export writer (:mod:`app.documents.exports`: no text cell can become a formula).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

from app.billing_reports.balances import BUCKET_LABELS, BUCKETS, STATUS_LABELS, Account, Balances
from app.billing_reports.pdf import FOOTER_H, MARGIN, _Canvas, _grid, _styles
from app.billing_reports.statement import Party, StatementData, fecha_corta, fecha_larga, soles
from app.documents.exports import append_row, csv_text_cell
from app.documents.pdf_text import plain
from app.localtime import format_moment

AMOUNT_FORMAT = '"S/ "#,##0.00;-"S/ "#,##0.00'


def para(text: str, style) -> Paragraph:  # noqa: ANN001
    """A Paragraph of plain text: markup characters in the data are escaped, never interpreted."""
    return plain(text, style)


@dataclass(frozen=True)
class PaymentLine:
    number: str
    received_on: date
    method: str  # as people read it
    reference: str  # resolution / SIAF expediente / fiscal year, or the bank operation
    amount: Decimal
    applied: tuple[tuple[str, Decimal], ...]
    unapplied: Decimal
    reversed_note: str = ""  # "Revertido el …: motivo" when a reversal took it out


@dataclass(frozen=True)
class AccountStatement:
    """One entity's account at one centre, at a cut-off date."""

    centre_name: str
    centre_code: str
    administering: Party
    participant: Party
    as_of: date
    issued_at: datetime
    balances: Balances
    payments: tuple[PaymentLine, ...]
    verification_code: str = ""
    verification_url: str = ""
    demo: bool = False

    @property
    def account(self) -> Account | None:
        return self.balances.account(self.participant.ruc, self.centre_code)

    @property
    def number(self) -> str:
        return f"EC-CUENTA-{self.centre_code}-{self.participant.ruc}-{self.as_of.isoformat()}"


def _canvas_data(doc: AccountStatement, title: str) -> StatementData:
    """The header/footer the statement's canvas draws (number, code, QR, page n of N)."""
    return StatementData(
        number=title, version=1, issued_on=doc.as_of, status="definitivo", centre_name=doc.centre_name,
        administering=doc.administering, participant=doc.participant, period_start=doc.as_of.replace(day=1),
        period_end=doc.as_of, methodology_version="", methodology_title="", vacancy_policy="", rounding_rule="",
        lines=(), verification_code=doc.verification_code, verification_url=doc.verification_url, demo=doc.demo)


def _build(story: list, canvas_data: StatementData, title: str) -> bytes:
    buffer = io.BytesIO()
    pdf = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
                            bottomMargin=FOOTER_H + 5 * mm, title=title, author="Plataforma MAC",
                            creator="Plataforma MAC",
                            keywords=f"codigo-verificacion:{canvas_data.verification_code}", invariant=1)
    pdf.build(story, canvasmaker=lambda *a, **k: _Canvas(*a, statement=canvas_data, **k))
    return buffer.getvalue()


def _parties(doc: AccountStatement, st: dict) -> list:
    rows = [["Centro MAC", para(doc.centre_name, st["cell"])],
            ["Entidad administradora", para(f"{doc.administering.name} · RUC {doc.administering.ruc}", st["cell"])],
            ["Entidad participante", para(f"{doc.participant.name} · RUC {doc.participant.ruc}", st["cell"])],
            ["Fecha de corte", fecha_larga(doc.as_of)],
            ["Emitido", format_moment(doc.issued_at)]]
    return [_grid(rows, [45 * mm, 133 * mm], header=False)]


def render_account_statement(doc: AccountStatement) -> bytes:
    st = _styles()
    account = doc.account
    story: list = [para("ESTADO DE CUENTA CORRIENTE", st["title"]),
                   para(f"{doc.participant.name} en el {doc.centre_name}, al {fecha_larga(doc.as_of)}",
                        st["subtitle"]), *_parties(doc, st)]
    if account is None:
        story.append(para("La entidad no tiene estados de cuenta ni pagos en este centro a la fecha de corte.",
                          st["p"]))
    else:
        story += [para("SALDO", st["h"]), _grid([
            ["Concepto", "Importe"], ["Total facturado (estados de cuenta vigentes)", soles(account.charged)],
            ["Pagos aplicados", soles(account.paid)], ["Saldo pendiente", soles(account.outstanding)],
            ["Saldo a favor (pagos no aplicados)", soles(account.credit)], ["Vencido", soles(account.overdue)],
            ["SALDO POR PAGAR", soles(max(account.balance, Decimal(0)))]], [120 * mm, 58 * mm],
            numeric_from=1, total_row=True),
            para("ANTIGÜEDAD DE LA DEUDA", st["h"]),
            _grid([[BUCKET_LABELS[b] for b in BUCKETS], [soles(account.ageing.get(b, 0)) for b in BUCKETS]],
                  [35.6 * mm] * 5, numeric_from=0)]
    rows = [["Estado de cuenta", "Emitido", "Vence", "Importe", "Pagado", "Pendiente", "Situación"]]
    for r in doc.balances.statements:
        situation = STATUS_LABELS[r.status] + (f" ({r.days_overdue} días)" if r.days_overdue else "")
        rows.append([para(r.id, st["cell"]), fecha_corta(r.statement.issued_on), fecha_corta(r.statement.due_on),
                     soles(r.statement.amount), soles(r.paid), soles(r.outstanding), para(situation, st["cell"])])
    story += [para("ESTADOS DE CUENTA", st["h"]),
              _grid(rows, [52 * mm, 17 * mm, 17 * mm, 23 * mm, 23 * mm, 23 * mm, 23 * mm],
                    numeric_from=3)]
    rows = [["Pago", "Recibido", "Medio y referencia", "Importe", "Aplicado a", "No aplicado"]]
    for p in doc.payments:
        applied = "; ".join(f"{n}: {soles(a)}" for n, a in p.applied) or "—"
        ref = f"{p.method} · {p.reference}" + (f" · {p.reversed_note}" if p.reversed_note else "")
        rows.append([para(p.number, st["cell"]), fecha_corta(p.received_on), para(ref, st["cell"]), soles(p.amount),
                     para(applied, st["cell"]), soles(p.unapplied)])
    story += [para("PAGOS CONFIRMADOS", st["h"]),
              _grid(rows, [30 * mm, 17 * mm, 45 * mm, 22 * mm, 44 * mm, 20 * mm], numeric_from=3)
              if doc.payments else para("No hay pagos confirmados a la fecha de corte.", st["p"]),
              Spacer(1, 6),
              para("Solo los pagos confirmados por la entidad administradora cuentan en el saldo. Cada pago se aplica "
                   "primero a los estados de cuenta que indica y luego a los pendientes más antiguos de la misma "
                   "cuenta; un estado de cuenta reemplazado por una versión corregida no cuenta y sus pagos pasan "
                   "a la versión vigente.", st["p"])]
    return _build(story, _canvas_data(doc, doc.number), f"Estado de cuenta corriente {doc.number}")


def _account_rows(doc: AccountStatement) -> tuple[list, list, list]:
    head = ["Estado de cuenta", "RUC", "Centro", "Emitido", "Vence", "Importe (S/)", "Pagado (S/)", "Pendiente (S/)",
            "Situación", "Días vencido", "Antigüedad"]
    statements = [[r.id, r.statement.entity_ruc, r.statement.centre, r.statement.issued_on.isoformat(),
                   r.statement.due_on.isoformat(), r.statement.amount, r.paid, r.outstanding, STATUS_LABELS[r.status],
                   r.days_overdue, BUCKET_LABELS[r.bucket]] for r in doc.balances.statements]
    pay_head = ["Pago", "Recibido", "Medio", "Referencia", "Importe (S/)", "Aplicado a", "Importe aplicado (S/)",
                "No aplicado (S/)", "Observación"]
    payments = []
    for p in doc.payments:
        applied = p.applied or (("", Decimal("0.00")),)
        for i, (number, amount) in enumerate(applied):
            payments.append([p.number, p.received_on.isoformat(), p.method, p.reference,
                             p.amount if i == 0 else None, number, amount, p.unapplied if i == 0 else None,
                             p.reversed_note])
    return [head, *statements], [pay_head, *payments], _summary_rows(doc)


def _summary_rows(doc: AccountStatement) -> list:
    a = doc.account
    zero = Decimal("0.00")
    return [["Concepto", "Importe (S/)"], ["Fecha de corte", doc.as_of.isoformat()],
            ["Total facturado", a.charged if a else zero], ["Pagos aplicados", a.paid if a else zero],
            ["Saldo pendiente", a.outstanding if a else zero], ["Saldo a favor", a.credit if a else zero],
            ["Vencido", a.overdue if a else zero],
            *[[f"Antigüedad {BUCKET_LABELS[b]}", a.ageing.get(b, zero) if a else zero] for b in BUCKETS]]


def account_csv(doc: AccountStatement) -> bytes:
    """Three blocks (balance, statements, payments), each followed by an empty line."""
    statements, payments, summary = _account_rows(doc)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for block in (summary, statements, payments):
        for row in block:
            writer.writerow([csv_text_cell(v) for v in row])
        writer.writerow([])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def account_xlsx(doc: AccountStatement) -> bytes:
    statements, payments, summary = _account_rows(doc)
    wb = Workbook()
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="ECE7EA")
    for index, (title, rows) in enumerate((("Saldo", summary), ("Estados de cuenta", statements),
                                           ("Pagos", payments))):
        sheet = wb.active if index == 0 else wb.create_sheet()
        sheet.title = title
        for row in rows:
            append_row(sheet, row)
            for cell in sheet[sheet.max_row]:
                if isinstance(cell.value, Decimal):
                    cell.number_format = AMOUNT_FORMAT
        for cell in sheet[1]:
            cell.font, cell.fill = bold, fill
        for column in sheet.columns:
            sheet.column_dimensions[column[0].column_letter].width = 18
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# ------------------------------------------------------------------------------------------- constancia ---


@dataclass(frozen=True)
class NoDebtData:
    centre_name: str
    centre_code: str
    administering: Party
    participant: Party
    as_of: date
    issued_at: datetime
    charged: Decimal
    paid: Decimal
    credit: Decimal
    statements: int
    verification_code: str
    verification_url: str
    demo: bool = False


def render_no_debt(data: NoDebtData) -> bytes:
    st = _styles()
    account = AccountStatement(data.centre_name, data.centre_code, data.administering, data.participant, data.as_of,
                               data.issued_at, Balances(data.as_of, (), (), ()), (), data.verification_code,
                               data.verification_url, data.demo)
    story: list = [
        para("CONSTANCIA DE NO ADEUDO", st["title"]),
        para(f"N.º {data.verification_code}", st["subtitle"]), *_parties(account, st), Spacer(1, 8),
        para(f"La Plataforma MAC hace constar que, según los estados de cuenta emitidos por {data.administering.name} "
             f"y los pagos confirmados por ella, la entidad {data.participant.name} (RUC {data.participant.ruc}) no "
             f"tiene deuda pendiente con el {data.centre_name} al {fecha_larga(data.as_of)}.", st["p"]),
        _grid([["Concepto", "Importe"], ["Estados de cuenta vigentes emitidos", str(data.statements)],
               ["Total facturado", soles(data.charged)], ["Total pagado y aplicado", soles(data.paid)],
               ["Saldo pendiente", soles(Decimal(0))], ["Saldo a favor de la entidad", soles(data.credit)]],
              [120 * mm, 58 * mm], numeric_from=1),
        Spacer(1, 8),
        para("Esta constancia se refiere a la fecha de corte indicada; no comprende estados de cuenta emitidos "
             "después de ella. Su autenticidad y vigencia se verifican con el código y el QR al pie.", st["p"])]
    return _build(story, _canvas_data(account, f"Constancia {data.verification_code}"),
                  f"Constancia de no adeudo {data.verification_code}")
