"""Payment use cases: each owns its unit of work; row-level security decides what the caller sees.

* Finance officer of a participant: report a payment (transferencia financiera or depósito, with its
  supporting PDF and the statements it pays), see its account at a centre, download the account statement
  (sealed PDF, CSV, XLSX) and a constancia de no adeudo when nothing is outstanding.
* Coordinator of the centre: confirm or reject each reported payment, register one directly, import a CSV of
  received transfers (all rows or none, with a row report), reverse a confirmed payment, set the centre's
  payment terms, see receivables with ageing, send reminders.
* SGP: national receivables per centre and entity, and the trend of collection.

Balances are never stored: every figure is computed by :mod:`app.billing_reports.balances` from the rows
:mod:`app.billing_reports.ledger` loads, so the web, the worker, the documents and ``mac costs saldos`` agree.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit, offload
from app.billing_reports import ledger as ledger_module
from app.billing_reports.account_documents import (
    AccountStatement,
    NoDebtData,
    PaymentLine,
    account_csv,
    account_xlsx,
    render_account_statement,
    render_no_debt,
)
from app.billing_reports.balances import (
    BUCKETS,
    Account,
    BalanceInputError,
    Balances,
    Case,
    balances,
    case_to_json,
    parse_amount,
)
from app.billing_reports.models import Statement
from app.billing_reports.payment_models import (
    DEFAULT_DUE_DAYS,
    METHOD_LABELS,
    CentrePaymentTerms,
    NoDebtCertificate,
    Payment,
    PaymentReversal,
    PaymentTarget,
)
from app.billing_reports.statement import Party
from app.db import ROLE_COORDINADOR, ROLE_FINANZAS, ROLE_SISTEMA, ROLE_SUPERVISOR_SGP, TenantContext, get_database
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.localtime import now_utc, today_lima
from app.tenants.models import Centre, Entity
from app.worker.outbox import enqueue_in_transaction

MAX_SUPPORT_BYTES = 5 * 1024 * 1024  # as every other PDF attachment of the platform
MAX_IMPORT_BYTES = 2 * 1024 * 1024
MAX_IMPORT_ROWS = 5000
_SIAF = re.compile(r"^\d{1,10}$")
_TEXT_LIMITS = {"resolucion": 80, "expediente_siaf": 10, "operacion": 40}


# ------------------------------------------------------------------------------------------------ input ---


@dataclass
class PaymentInput:
    """A payment as typed in a form or a CSV row (strings, checked by :func:`check_payment`)."""

    centre_id: str = ""
    received_on: str = ""
    amount: str = ""
    method: str = ""
    resolution: str = ""
    siaf_expediente: str = ""
    fiscal_year: str = ""
    bank_operation: str = ""
    statements: list[str] = field(default_factory=list)  # statement ids (form) or numbers (CSV), in order
    support_filename: str = ""
    support_pdf: bytes | None = None


@dataclass(frozen=True)
class CheckedPayment:
    received_on: date
    amount: Decimal
    method: str
    resolution: str | None
    siaf_expediente: str | None
    fiscal_year: int | None
    bank_operation: str | None


def _clean(value: str | None) -> str:
    text = (value or "").strip()
    if "\x00" in text:
        raise ValidationFailed("El texto contiene caracteres no válidos.")
    return text


def check_payment(data: PaymentInput, today: date) -> CheckedPayment:
    """Refuse what cannot be a payment, field by field, in Spanish."""
    try:
        received = date.fromisoformat(_clean(data.received_on))
    except ValueError:
        raise ValidationFailed("Indique la fecha de recepción (AAAA-MM-DD).", field="fecha") from None
    if received > today:
        raise ValidationFailed("La fecha de recepción no puede ser posterior a hoy.", field="fecha")
    if received.year < 2000:
        raise ValidationFailed("La fecha de recepción no es válida.", field="fecha")
    try:
        amount = parse_amount(_clean(data.amount), "El importe")
    except BalanceInputError:
        raise ValidationFailed("Escriba el importe con punto decimal y a lo más dos decimales, sin separador de "
                               "miles (por ejemplo 10000.00).", field="importe") from None
    if amount <= 0:
        raise ValidationFailed("El importe debe ser mayor que cero.", field="importe")
    method = _clean(data.method)
    if method not in METHOD_LABELS:
        raise ValidationFailed("Elija el medio de pago: transferencia financiera o depósito.", field="medio")
    texts = {"resolucion": _clean(data.resolution), "expediente_siaf": _clean(data.siaf_expediente),
             "operacion": _clean(data.bank_operation)}
    for name, limit in _TEXT_LIMITS.items():
        if len(texts[name]) > limit:
            raise ValidationFailed(f"El texto es demasiado largo (máximo {limit} caracteres).", field=name)
    if method == "transferencia":
        if not texts["resolucion"]:
            raise ValidationFailed("Indique el número de la resolución de la transferencia.", field="resolucion")
        if not _SIAF.match(texts["expediente_siaf"]):
            raise ValidationFailed("Indique el expediente SIAF (solo dígitos, hasta 10).", field="expediente_siaf")
        year_text = _clean(data.fiscal_year)
        if not year_text.isdigit() or not 2000 <= int(year_text) <= today.year + 1:
            raise ValidationFailed("Indique el año fiscal de la transferencia (por ejemplo 2026).", field="anio_fiscal")
        return CheckedPayment(received, amount, method, texts["resolucion"], texts["expediente_siaf"].zfill(7),
                              int(year_text), None)
    if not texts["operacion"]:
        raise ValidationFailed("Indique el número de operación bancaria del depósito.", field="operacion")
    return CheckedPayment(received, amount, method, None, None, None, texts["operacion"])


def check_support(filename: str, content: bytes | None, *, required: bool) -> tuple[str, bytes] | None:
    if not content:
        if required:
            raise ValidationFailed("Adjunte el sustento del pago en PDF (la resolución o la constancia del "
                                   "depósito).", field="sustento")
        return None
    if len(content) > MAX_SUPPORT_BYTES:
        raise ValidationFailed("El sustento no debe superar 5 MB.", field="sustento")
    if not content.startswith(b"%PDF-"):
        raise ValidationFailed("El sustento debe ser un archivo PDF.", field="sustento")
    name = re.sub(r"[^\w.\- ]", "_", _clean(filename) or "sustento.pdf")[:150] or "sustento.pdf"
    return name, content


def _payment_number(received_on: date) -> str:
    from app.documents.verification import new_code

    return new_code(f"PAG-{received_on.year}")


# --------------------------------------------------------------------------------------------- helpers ---


async def _centre(s: AsyncSession, centre_id: uuid.UUID | str | None) -> Centre:
    try:
        cid = centre_id if isinstance(centre_id, uuid.UUID) else uuid.UUID(str(centre_id))
    except ValueError:
        raise ValidationFailed("Elija el centro.", field="centro") from None
    centre = await s.get(Centre, cid)
    if centre is None:
        raise ValidationFailed("El centro no existe.", field="centro")
    return centre


def _coordinates(ctx: TenantContext, centre: Centre) -> None:
    if ctx.role != ROLE_COORDINADOR or centre.administering_entity_id != ctx.entity_id:
        raise Forbidden("Solo la coordinación del centro confirma y registra sus pagos.")


async def _targets(s: AsyncSession, refs: list[str], entity_id: uuid.UUID, centre_id: uuid.UUID) -> list[Statement]:
    """The statements a payment names, by id (forms) or number (CSV): the same account's, generated."""
    out: list[Statement] = []
    for ref in refs:
        ref = ref.strip()
        if not ref:
            continue
        try:
            st = await s.get(Statement, uuid.UUID(ref))
        except ValueError:
            st = await s.scalar(select(Statement).where(Statement.number == ref))
        if st is None or st.state != "generado":
            raise ValidationFailed(f"El estado de cuenta «{ref}» no existe o no tiene acceso a él.",
                                   field="estados")
        if (st.entity_id, st.centre_id) != (entity_id, centre_id):
            raise ValidationFailed(f"El estado de cuenta {st.number} es de otra cuenta (otra entidad u otro centro).",
                                   field="estados")
        if st not in out:
            out.append(st)
    return out


async def _store_payment(s: AsyncSession, ctx: TenantContext, *, entity_id: uuid.UUID, centre: Centre,
                         checked: CheckedPayment, targets: list[Statement], state: str, source: str,
                         support: tuple[str, bytes] | None) -> Payment:
    await _refuse_duplicate(s, entity_id, centre.id, checked)
    payment = Payment(
        number=_payment_number(checked.received_on), entity_id=entity_id, centre_id=centre.id,
        received_on=checked.received_on, amount=checked.amount, method=checked.method, resolution=checked.resolution,
        siaf_expediente=checked.siaf_expediente, fiscal_year=checked.fiscal_year,
        bank_operation=checked.bank_operation, state=state, source=source, reported_by_id=ctx.user_id,
        decided_by_id=ctx.user_id if state == "confirmado" else None,
        decided_at=now_utc() if state == "confirmado" else None,
        support_filename=support[0] if support else None,
        support_sha256=hashlib.sha256(support[1]).hexdigest() if support else None,
        support_pdf=support[1] if support else None)
    s.add(payment)
    await s.flush()
    for position, st in enumerate(targets):
        s.add(PaymentTarget(payment_id=payment.id, statement_id=st.id, position=position, entity_id=entity_id,
                            centre_id=centre.id))
    await s.flush()
    await audit.record(s, ctx, action=f"pago_{source}", record_type="pago", record_id=payment.id,
                       after=_audit_view(payment, targets))
    return payment


def _audit_view(p: Payment, targets: list[Statement] | None = None) -> dict:
    view = {"numero": p.number, "estado": p.state, "importe": format(p.amount, "f"), "fecha": p.received_on,
            "medio": p.method, "resolucion": p.resolution, "expediente_siaf": p.siaf_expediente,
            "anio_fiscal": p.fiscal_year, "operacion": p.bank_operation, "sustento_sha256": p.support_sha256}
    if targets is not None:
        view["estados"] = [t.number for t in targets]
    return view


async def _refuse_duplicate(s: AsyncSession, entity_id: uuid.UUID, centre_id: uuid.UUID,
                            checked: CheckedPayment) -> None:
    """A transfer is identified by its SIAF expediente and fiscal year, a deposit by its operation number: the
    same one recorded twice (and not rejected) would count twice."""
    q = select(Payment.number).where(Payment.entity_id == entity_id, Payment.centre_id == centre_id,
                                     Payment.state != "rechazado", Payment.method == checked.method)
    if checked.method == "transferencia":
        q = q.where(Payment.siaf_expediente == checked.siaf_expediente, Payment.fiscal_year == checked.fiscal_year)
    else:
        q = q.where(Payment.bank_operation == checked.bank_operation)
    existing = await s.scalar(q.limit(1))
    if existing:
        raise Conflict(f"Este pago ya está registrado ({existing}).", code="pago_duplicado",
                       field="expediente_siaf" if checked.method == "transferencia" else "operacion")


# ------------------------------------------------------------------------------------------ use cases ---


async def report_payment(ctx: TenantContext, data: PaymentInput) -> Payment:
    """The finance officer reports a payment of its entity; it counts once the centre confirms it."""
    if ctx.role != ROLE_FINANZAS or ctx.entity_id is None:
        raise Forbidden("Solo el responsable de finanzas de la entidad reporta sus pagos.")
    checked = check_payment(data, today_lima())
    support = check_support(data.support_filename, data.support_pdf, required=True)
    async with get_database().transaction(ctx) as s:
        centre = await _centre(s, data.centre_id)
        targets = await _targets(s, data.statements, ctx.entity_id, centre.id)
        return await _store_payment(s, ctx, entity_id=ctx.entity_id, centre=centre, checked=checked,
                                    targets=targets, state="reportado", source="reportado", support=support)


async def register_payment(ctx: TenantContext, entity_id: uuid.UUID | str, data: PaymentInput) -> Payment:
    """The coordinator registers a payment its centre received: confirmed at once."""
    checked = check_payment(data, today_lima())
    support = check_support(data.support_filename, data.support_pdf, required=False)
    async with get_database().transaction(ctx) as s:
        centre = await _centre(s, data.centre_id)
        _coordinates(ctx, centre)
        entity = await _entity(s, entity_id)
        targets = await _targets(s, data.statements, entity.id, centre.id)
        return await _store_payment(s, ctx, entity_id=entity.id, centre=centre, checked=checked, targets=targets,
                                    state="confirmado", source="registrado", support=support)


async def _entity(s: AsyncSession, entity_id: uuid.UUID | str) -> Entity:
    try:
        eid = entity_id if isinstance(entity_id, uuid.UUID) else uuid.UUID(str(entity_id))
    except ValueError:
        raise ValidationFailed("Elija la entidad.", field="entidad") from None
    entity = await s.get(Entity, eid)
    if entity is None:
        raise ValidationFailed("La entidad no existe.", field="entidad")
    return entity


async def _coordinated_payment(s: AsyncSession, ctx: TenantContext, payment_id: uuid.UUID) -> Payment:
    if ctx.role != ROLE_COORDINADOR:
        raise Forbidden("Solo la coordinación del centro confirma, rechaza o revierte pagos.")
    payment = await s.get(Payment, payment_id, with_for_update=True)
    if payment is None:
        raise NotFound("El pago no existe o no tiene acceso a él.")
    _coordinates(ctx, await s.get(Centre, payment.centre_id))
    return payment


async def confirm_payment(ctx: TenantContext, payment_id: uuid.UUID) -> Payment:
    async with get_database().transaction(ctx) as s:
        payment = await _coordinated_payment(s, ctx, payment_id)
        if payment.state != "reportado":
            raise Conflict(f"El pago {payment.number} ya fue {'confirmado' if payment.state == 'confirmado' else 'rechazado'}.",
                           code="pago_decidido")
        payment.state, payment.decided_by_id, payment.decided_at = "confirmado", ctx.user_id, now_utc()
        await audit.record(s, ctx, action="pago_confirmado", record_type="pago", record_id=payment.id,
                           before={"estado": "reportado"}, after=_audit_view(payment))
        return payment


async def reject_payment(ctx: TenantContext, payment_id: uuid.UUID, reason: str) -> Payment:
    reason = _clean(reason)
    if len(reason) < 10:
        raise ValidationFailed("Explique el motivo del rechazo (al menos 10 caracteres).", field="motivo")
    async with get_database().transaction(ctx) as s:
        payment = await _coordinated_payment(s, ctx, payment_id)
        if payment.state != "reportado":
            raise Conflict(f"El pago {payment.number} ya fue decidido.", code="pago_decidido")
        payment.state, payment.rejection_reason = "rechazado", reason[:2000]
        payment.decided_by_id, payment.decided_at = ctx.user_id, now_utc()
        await audit.record(s, ctx, action="pago_rechazado", record_type="pago", record_id=payment.id,
                           before={"estado": "reportado"},
                           after={"estado": "rechazado", "motivo": reason})
        return payment


async def reverse_payment(ctx: TenantContext, payment_id: uuid.UUID, reason: str,
                          reversed_on: str | None = None) -> PaymentReversal:
    """A confirmed payment is never edited or deleted: a reversal entry takes it out of the balances from
    its date on, and the audit log keeps who did it and why."""
    reason = _clean(reason)
    if len(reason) < 10:
        raise ValidationFailed("Explique el motivo de la reversión (al menos 10 caracteres).", field="motivo")
    today = today_lima()
    try:
        when = date.fromisoformat(_clean(reversed_on)) if _clean(reversed_on) else today
    except ValueError:
        raise ValidationFailed("Indique la fecha de la reversión (AAAA-MM-DD).", field="fecha") from None
    if when > today:
        raise ValidationFailed("La fecha de la reversión no puede ser posterior a hoy.", field="fecha")
    async with get_database().transaction(ctx) as s:
        payment = await _coordinated_payment(s, ctx, payment_id)
        if payment.state != "confirmado":
            raise Conflict("Solo se revierte un pago confirmado; un pago por confirmar se rechaza.",
                           code="pago_no_confirmado")
        if when < payment.received_on:
            raise ValidationFailed("La reversión no puede ser anterior a la recepción del pago.", field="fecha")
        if await s.scalar(select(PaymentReversal.id).where(PaymentReversal.payment_id == payment.id)):
            raise Conflict(f"El pago {payment.number} ya fue revertido.", code="pago_revertido")
        reversal = PaymentReversal(payment_id=payment.id, entity_id=payment.entity_id, centre_id=payment.centre_id,
                                   reversed_on=when, reason=reason[:2000], created_by_id=ctx.user_id)
        s.add(reversal)
        await s.flush()
        await audit.record(s, ctx, action="pago_revertido", record_type="pago", record_id=payment.id,
                           before=_audit_view(payment),
                           after={"reversion": str(reversal.id), "fecha": when, "motivo": reason})
        return reversal


async def set_payment_terms(ctx: TenantContext, centre_id: uuid.UUID, due_days: str) -> int:
    text = _clean(due_days)
    if not text.isdigit() or not 1 <= int(text) <= 365:
        raise ValidationFailed("Indique el plazo de pago en días calendario (de 1 a 365).", field="dias")
    async with get_database().transaction(ctx) as s:
        centre = await _centre(s, centre_id)
        _coordinates(ctx, centre)
        terms = await s.get(CentrePaymentTerms, centre.id)
        before = terms.due_days if terms else DEFAULT_DUE_DAYS
        if terms is None:
            terms = CentrePaymentTerms(centre_id=centre.id)
            s.add(terms)
        terms.due_days, terms.updated_by_id = int(text), ctx.user_id
        await audit.record(s, ctx, action="plazo_de_pago", record_type="centro", record_id=centre.id,
                           before={"dias": before}, after={"dias": int(text)})
        return int(text)


async def payment_terms(ctx: TenantContext, centre_id: uuid.UUID) -> int:
    async with get_database().transaction(ctx) as s:
        terms = await s.get(CentrePaymentTerms, centre_id)
        return terms.due_days if terms else DEFAULT_DUE_DAYS


# ----------------------------------------------------------------------------------------- CSV import ---

IMPORT_COLUMNS = ("ruc", "fecha", "importe", "medio", "resolucion", "expediente_siaf", "anio_fiscal", "operacion",
                  "estados")


@dataclass(frozen=True)
class ImportRow:
    line: int
    ruc: str
    amount: str
    outcome: str  # confirmado | registrado | error
    message: str


@dataclass
class ImportReport:
    rows: list[ImportRow]
    applied: bool

    @property
    def errors(self) -> list[ImportRow]:
        return [r for r in self.rows if r.outcome == "error"]

    @property
    def confirmed(self) -> int:
        return sum(1 for r in self.rows if r.outcome == "confirmado")

    @property
    def registered(self) -> int:
        return sum(1 for r in self.rows if r.outcome == "registrado")


def _decode_csv(content: bytes) -> list[dict[str, str]]:
    if len(content) > MAX_IMPORT_BYTES:
        raise ValidationFailed("El archivo no debe superar 2 MB.", field="archivo")
    if not content.strip():
        raise ValidationFailed("Adjunte el archivo CSV de transferencias recibidas.", field="archivo")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed("El archivo debe estar en UTF-8.", field="archivo") from None
    if "\x00" in text:
        raise ValidationFailed("El archivo contiene caracteres no válidos.", field="archivo")
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in ("ruc", "fecha", "importe", "medio") if c not in header]
    if missing:
        raise ValidationFailed(f"Faltan columnas en el CSV: {', '.join(missing)}. Columnas: "
                               f"{', '.join(IMPORT_COLUMNS)}.", field="archivo")
    reader.fieldnames = header
    rows = [{k: (v or "").strip() for k, v in row.items() if k} for row in reader]
    if len(rows) > MAX_IMPORT_ROWS:
        raise ValidationFailed(f"El archivo tiene más de {MAX_IMPORT_ROWS} filas.", field="archivo")
    if not rows:
        raise ValidationFailed("El archivo no tiene filas de pagos.", field="archivo")
    return rows


async def import_transfers(ctx: TenantContext, centre_id: uuid.UUID, content: bytes) -> ImportReport:
    """Each row is a payment the centre received: it confirms the matching reported payment (same entity,
    method, SIAF expediente and fiscal year or operation number, and amount) or registers it confirmed. All
    rows or none: if any row is refused, nothing is stored and the report says why, row by row."""
    rows = _decode_csv(content)
    try:
        return await _import(ctx, centre_id, content, rows)
    except _NothingStored as refused:  # the transaction rolled back: not one row was stored
        return refused.report


class _NothingStored(Exception):
    def __init__(self, report: ImportReport) -> None:
        super().__init__("import refused")
        self.report = report


async def _import(ctx: TenantContext, centre_id: uuid.UUID, content: bytes, rows: list[dict[str, str]]) -> ImportReport:
    today = today_lima()
    report: list[ImportRow] = []
    async with get_database().transaction(ctx) as s:
        centre = await _centre(s, centre_id)
        _coordinates(ctx, centre)
        seen: set[tuple] = set()
        for index, row in enumerate(rows, start=2):  # line 1 is the header
            ruc, amount = row.get("ruc", ""), row.get("importe", "")
            try:
                async with s.begin_nested():
                    outcome, message = await _import_row(s, ctx, centre, row, today, seen)
            except (ValidationFailed, Conflict) as exc:
                report.append(ImportRow(index, ruc, amount, "error", exc.message))
                continue
            report.append(ImportRow(index, ruc, amount, outcome, message))
        result = ImportReport(report, applied=not any(r.outcome == "error" for r in report))
        if not result.applied:
            raise _NothingStored(result)
        await audit.record(s, ctx, action="pagos_importados", record_type="centro", record_id=centre.id,
                           after={"filas": len(report), "confirmados": result.confirmed,
                                  "registrados": result.registered,
                                  "sha256": hashlib.sha256(content).hexdigest()})
    return result


async def _import_row(s: AsyncSession, ctx: TenantContext, centre: Centre, row: dict[str, str], today: date,
                      seen: set[tuple]) -> tuple[str, str]:
    entity = await s.scalar(select(Entity).where(Entity.ruc == row.get("ruc", "")))
    if entity is None:
        raise ValidationFailed(f"No hay una entidad con RUC «{row.get('ruc', '')}».")
    method = {"transferencia": "transferencia", "transferencia financiera": "transferencia", "deposito": "deposito",
              "depósito": "deposito"}.get(row.get("medio", "").lower(), row.get("medio", ""))
    data = PaymentInput(centre_id=str(centre.id), received_on=row.get("fecha", ""), amount=row.get("importe", ""),
                        method=method, resolution=row.get("resolucion", ""),
                        siaf_expediente=row.get("expediente_siaf", ""), fiscal_year=row.get("anio_fiscal", ""),
                        bank_operation=row.get("operacion", ""),
                        statements=[r for r in re.split(r"[|\s]+", row.get("estados", "")) if r])
    checked = check_payment(data, today)
    key = (entity.id, checked.method, checked.siaf_expediente, checked.fiscal_year, checked.bank_operation)
    if key in seen:
        raise ValidationFailed("La fila repite un pago de una fila anterior del archivo.")
    seen.add(key)
    q = select(Payment).where(Payment.entity_id == entity.id, Payment.centre_id == centre.id,
                              Payment.method == checked.method, Payment.state != "rechazado")
    if checked.method == "transferencia":
        q = q.where(Payment.siaf_expediente == checked.siaf_expediente, Payment.fiscal_year == checked.fiscal_year)
    else:
        q = q.where(Payment.bank_operation == checked.bank_operation)
    existing = await s.scalar(q.with_for_update())
    if existing is not None:
        if existing.state == "confirmado":
            raise Conflict(f"El pago ya estaba confirmado ({existing.number}).")
        if existing.amount != checked.amount:
            raise ValidationFailed(f"El pago reportado {existing.number} es de S/ {existing.amount:,.2f}, no de "
                                   f"S/ {checked.amount:,.2f}.")
        existing.state, existing.decided_by_id, existing.decided_at = "confirmado", ctx.user_id, now_utc()
        await audit.record(s, ctx, action="pago_confirmado", record_type="pago", record_id=existing.id,
                           before={"estado": "reportado"},
                           after=_audit_view(existing) | {"importado": True})
        return "confirmado", f"Confirma el pago reportado {existing.number}."
    targets = await _targets(s, data.statements, entity.id, centre.id)
    payment = await _store_payment(s, ctx, entity_id=entity.id, centre=centre, checked=checked, targets=targets,
                                   state="confirmado", source="importado", support=None)
    return "registrado", f"Registrado y confirmado como {payment.number}."


# ------------------------------------------------------------------------------------------- accounts ---


@dataclass
class PaymentView:
    payment: Payment
    entity_name: str
    centre_name: str
    targets: list[str]
    reversal: PaymentReversal | None = None

    @property
    def method_label(self) -> str:
        return METHOD_LABELS[self.payment.method]

    @property
    def reference(self) -> str:
        p = self.payment
        if p.method == "transferencia":
            return f"Resolución {p.resolution} · SIAF {p.siaf_expediente} · año fiscal {p.fiscal_year}"
        return f"Operación {p.bank_operation}"


@dataclass
class AccountView:
    entity: Entity
    centre: Centre
    administering: Entity
    as_of: date
    result: Balances
    ledger: ledger_module.Ledger
    payments: list[PaymentView]  # every payment of the account, whatever its state
    due_days: int
    certificates: list[NoDebtCertificate] = field(default_factory=list)

    @property
    def account(self) -> Account | None:
        return self.result.account(self.entity.ruc, self.centre.code)

    @property
    def outstanding(self) -> Decimal:
        return self.account.outstanding if self.account else Decimal("0.00")

    @property
    def no_debt(self) -> bool:
        return self.outstanding == 0

    def statement_row(self, number: str) -> Statement | None:
        return self.ledger.statement_rows.get(number)

    def applied(self, number: str):  # noqa: ANN201
        return self.result.payment(number)


def _as_of(value: str | date | None) -> date:
    if isinstance(value, date):
        return value
    if not value:
        return today_lima()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed("Indique la fecha de corte (AAAA-MM-DD).", field="al") from None


def _compute(ledger: ledger_module.Ledger, as_of: date) -> Balances:
    try:
        return balances(as_of, ledger.statements, ledger.payments)
    except BalanceInputError as exc:  # stored data the rules refuse: say so, never a 500
        raise Conflict(f"Los datos guardados no permiten calcular el saldo: {exc.message}",
                       code="saldo_no_calculable") from None


async def account(ctx: TenantContext, centre_id: uuid.UUID, entity_id: uuid.UUID | None = None,
                  as_of: str | date | None = None) -> AccountView:
    """One account (the caller's entity for a participant; any entity the caller may see otherwise)."""
    cut = _as_of(as_of)
    if ctx.role in (ROLE_FINANZAS, "gestor_entidad"):
        if entity_id is not None and entity_id != ctx.entity_id:
            raise NotFound("La cuenta no existe o no tiene acceso a ella.")
        entity_id = ctx.entity_id
    if entity_id is None:
        raise ValidationFailed("Elija la entidad.", field="entidad")
    async with get_database().transaction(ctx) as s:
        centre = await s.get(Centre, centre_id)
        entity = await s.get(Entity, entity_id)
        if centre is None or entity is None:
            raise NotFound("La cuenta no existe o no tiene acceso a ella.")
        if ctx.role == ROLE_COORDINADOR and centre.administering_entity_id != ctx.entity_id:
            raise NotFound("La cuenta no existe o no tiene acceso a ella.")
        led = await ledger_module.load(s, as_of=cut, centre_id=centre.id, entity_id=entity.id)
        views = await _payment_views(s, centre_id=centre.id, entity_id=entity.id)
        terms = await s.get(CentrePaymentTerms, centre.id)
        admin = await s.get(Entity, centre.administering_entity_id)
        certificates = list((await s.scalars(select(NoDebtCertificate).where(
            NoDebtCertificate.entity_id == entity.id, NoDebtCertificate.centre_id == centre.id)
            .order_by(NoDebtCertificate.created_at.desc()))).all())
    return AccountView(entity, centre, admin, cut, _compute(led, cut), led, views,
                       terms.due_days if terms else DEFAULT_DUE_DAYS, certificates)


async def _payment_views(s: AsyncSession, *, centre_id: uuid.UUID | None = None, entity_id: uuid.UUID | None = None,
                         state: str | None = None, payment_id: uuid.UUID | None = None) -> list[PaymentView]:
    q = (select(Payment, Entity.name, Centre.name, PaymentReversal).join(Entity, Entity.id == Payment.entity_id)
         .join(Centre, Centre.id == Payment.centre_id)
         .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.id)
         .order_by(Payment.received_on.desc(), Payment.number.desc()))
    if centre_id:
        q = q.where(Payment.centre_id == centre_id)
    if entity_id:
        q = q.where(Payment.entity_id == entity_id)
    if state:
        q = q.where(Payment.state == state)
    if payment_id:
        q = q.where(Payment.id == payment_id)
    rows = (await s.execute(q.limit(500))).all()
    ids = [r[0].id for r in rows]
    targets: dict[uuid.UUID, list[str]] = defaultdict(list)
    if ids:
        for pid, number in (await s.execute(ledger_module.targets_query(ids))).all():
            targets[pid].append(number)
    return [PaymentView(p, entity_name, centre_name, targets[p.id], reversal)
            for p, entity_name, centre_name, reversal in rows]


async def my_accounts(ctx: TenantContext, as_of: str | date | None = None) -> list[tuple[Centre, Account]]:
    """A participant's accounts: every centre where it has statements or payments."""
    if ctx.entity_id is None:
        return []
    cut = _as_of(as_of)
    async with get_database().transaction(ctx) as s:
        led = await ledger_module.load(s, as_of=cut, entity_id=ctx.entity_id)
    result = _compute(led, cut)
    return [(led.centres[a.centre], a) for a in result.accounts]


async def pending_payments(ctx: TenantContext) -> list[PaymentView]:
    """Reported payments waiting for the coordinator's decision (its centres', by RLS)."""
    async with get_database().transaction(ctx) as s:
        return await _payment_views(s, state="reportado")


async def get_payment(ctx: TenantContext, payment_id: uuid.UUID) -> PaymentView:
    async with get_database().transaction(ctx) as s:
        views = await _payment_views(s, payment_id=payment_id)
    if not views:
        raise NotFound("El pago no existe o no tiene acceso a él.")
    return views[0]


async def payment_support(ctx: TenantContext, payment_id: uuid.UUID) -> tuple[str, bytes]:
    async with get_database().transaction(ctx) as s:
        payment = await s.get(Payment, payment_id)
        if payment is None:
            raise NotFound("El pago no existe o no tiene acceso a él.")
        await s.refresh(payment, ["support_pdf"])
        if not payment.support_pdf:
            raise NotFound("El pago no tiene sustento adjunto.")
        return payment.support_filename or "sustento.pdf", payment.support_pdf


# ---------------------------------------------------------------------------------------- receivables ---


@dataclass(frozen=True)
class Receivable:
    centre: Centre
    entity: Entity
    account: Account


@dataclass
class Receivables:
    as_of: date
    rows: list[Receivable]

    def total(self, attribute: str) -> Decimal:
        return sum((getattr(r.account, attribute) for r in self.rows), Decimal("0.00"))

    def bucket_total(self, bucket: str) -> Decimal:
        return sum((r.account.ageing.get(bucket, Decimal(0)) for r in self.rows), Decimal("0.00"))

    def by_centre(self) -> list[tuple[Centre, dict[str, Decimal]]]:
        out: dict[uuid.UUID, tuple[Centre, dict[str, Decimal]]] = {}
        for r in self.rows:
            centre, sums = out.setdefault(r.centre.id, (r.centre, defaultdict(Decimal)))
            for name in ("charged", "paid", "outstanding", "credit", "overdue"):
                sums[name] += getattr(r.account, name)
            for b in BUCKETS:
                sums[b] += r.account.ageing.get(b, Decimal(0))
        return sorted(out.values(), key=lambda c: c[0].name)

    @property
    def buckets(self) -> tuple[str, ...]:
        return BUCKETS


async def receivables(ctx: TenantContext, as_of: str | date | None = None,
                      centre_id: uuid.UUID | None = None) -> Receivables:
    """Every account the caller may see (its centres' for a coordinator, all for the SGP), with ageing."""
    if ctx.role not in (ROLE_COORDINADOR, ROLE_SUPERVISOR_SGP, ROLE_SISTEMA):
        raise Forbidden("Solo la coordinación del centro y la SGP ven las cuentas por cobrar.")
    cut = _as_of(as_of)
    async with get_database().transaction(ctx) as s:
        led = await ledger_module.load(s, as_of=cut, centre_id=centre_id)
    if ctx.role == ROLE_COORDINADOR:  # what it administers, not what it pays as a participant elsewhere
        keep = {code for code, c in led.centres.items() if c.administering_entity_id == ctx.entity_id}
        led.statements = [x for x in led.statements if x.centre in keep]
        led.payments = [x for x in led.payments if x.centre in keep]
    result = await offload.run(_compute, led, cut)  # a national year is CPU work: off the event loop
    rows = [Receivable(led.centres[a.centre], led.entities[a.entity_ruc], a) for a in result.accounts]
    rows.sort(key=lambda r: (r.centre.name, -r.account.outstanding, r.entity.name))
    return Receivables(cut, rows)


@dataclass(frozen=True)
class TrendMonth:
    month: date
    charged: Decimal  # statements issued in the month (live at the cut-off)
    collected: Decimal  # confirmed payments received in the month (not reversed)

    @property
    def rate(self) -> Decimal | None:
        if not self.charged:
            return None
        return (self.collected * 100 / self.charged).quantize(Decimal("0.1"))


async def collection_trend(ctx: TenantContext, months: int = 12, as_of: str | date | None = None) -> list[TrendMonth]:
    """What was billed and what was collected, month by month, over the last ``months`` months."""
    if ctx.role not in (ROLE_COORDINADOR, ROLE_SUPERVISOR_SGP):
        raise Forbidden("Solo la coordinación del centro y la SGP ven la tendencia de cobranza.")
    cut = _as_of(as_of)
    async with get_database().transaction(ctx) as s:
        led = await ledger_module.load(s, as_of=cut)
    result = await offload.run(_compute, led, cut)
    first = date(cut.year, cut.month, 1)
    for _ in range(months - 1):
        first = date(first.year - (first.month == 1), 12 if first.month == 1 else first.month - 1, 1)
    charged: dict[date, Decimal] = defaultdict(Decimal)
    collected: dict[date, Decimal] = defaultdict(Decimal)
    for r in result.statements:
        if r.live:
            charged[r.statement.issued_on.replace(day=1)] += r.statement.amount
    for p in result.payments:
        collected[p.payment.received_on.replace(day=1)] += p.payment.amount
    out, month = [], first
    while month <= cut:
        out.append(TrendMonth(month, charged[month], collected[month]))
        month = date(month.year + (month.month == 12), 1 if month.month == 12 else month.month + 1, 1)
    return out


async def request_reminders(ctx: TenantContext, centre_id: uuid.UUID, entity_id: uuid.UUID | None = None) -> None:
    """The coordinator asks for reminders now: the worker writes them (it may read the entities' finance
    officers; the coordinator may not)."""
    from app.billing_reports.reminders import account_reminder_job

    async with get_database().transaction(ctx) as s:
        centre = await _centre(s, centre_id)
        _coordinates(ctx, centre)
        await enqueue_in_transaction(s, account_reminder_job, str(centre.id), str(entity_id) if entity_id else None,
                                     entity_id=ctx.entity_id)
        await audit.record(s, ctx, action="recordatorio_de_pago", record_type="centro", record_id=centre.id,
                           after={"entidad": str(entity_id) if entity_id else "todas"})


# ------------------------------------------------------------------------------ a correction's effect ---


@dataclass(frozen=True)
class CorrectionEffect:
    replaced_number: str
    old_amount: Decimal
    new_amount: Decimal
    outstanding_before: Decimal  # the account without the correction
    outstanding_after: Decimal
    credit_before: Decimal
    credit_after: Decimal

    @property
    def difference(self) -> Decimal:
        return self.new_amount - self.old_amount


async def correction_effect(ctx: TenantContext, statement_id: uuid.UUID) -> CorrectionEffect | None:
    """What a corrected statement version changes in its account's balance today: the account computed
    with and without it (the payments that named the old version move to the new one)."""
    async with get_database().transaction(ctx) as s:
        st = await s.get(Statement, statement_id)
        if st is None or st.replaces_id is None or st.state != "generado":
            return None
        centre = await s.get(Centre, st.centre_id)
        entity = await s.get(Entity, st.entity_id)
        led = await ledger_module.load(s, as_of=today_lima(), centre_id=st.centre_id, entity_id=st.entity_id)
    cut = max(today_lima(), st.issued_on)
    old = next((x for x in led.statements if x.id == next((x.replaces for x in led.statements if x.id == st.number),
                                                            None)), None)
    if old is None:
        return None
    without = [x for x in led.statements if x.id != st.number and x.replaces != st.number]
    after = _compute(led, cut).account(entity.ruc, centre.code)
    before = balances(cut, without, led.payments).account(entity.ruc, centre.code)
    zero = Decimal("0.00")
    return CorrectionEffect(old.id, old.amount, st.total or zero, before.outstanding if before else zero,
                            after.outstanding if after else zero, before.credit if before else zero,
                            after.credit if after else zero)


# ------------------------------------------------------------------------------------------ documents ---


def _payment_lines(view: AccountView) -> tuple[PaymentLine, ...]:
    lines = []
    for pv in sorted(view.payments, key=lambda v: (v.payment.received_on, v.payment.number)):
        p = pv.payment
        if p.state != "confirmado" or p.received_on > view.as_of:
            continue
        result = view.result.payment(p.number)
        note = ""
        if pv.reversal is not None and pv.reversal.reversed_on <= view.as_of:
            note = f"Revertido el {pv.reversal.reversed_on.strftime('%d/%m/%Y')}: {pv.reversal.reason}"
        lines.append(PaymentLine(
            p.number, p.received_on, pv.method_label, pv.reference, p.amount,
            tuple((a.statement, a.amount) for a in result.applied) if result else (),
            result.unapplied if result else Decimal("0.00"), note))
    return tuple(lines)


def _account_document(view: AccountView, code: str = "", url: str = "") -> AccountStatement:
    return AccountStatement(
        view.centre.name, view.centre.code, Party(view.administering.name, view.administering.ruc),
        Party(view.entity.name, view.entity.ruc), view.as_of, now_utc(), view.result, _payment_lines(view), code,
        url, bool(view.entity.is_demo or view.centre.is_demo))


def _seal_sync(pdf: bytes, reason: str, field_name: str) -> tuple[bytes, str]:
    """Seal in a worker thread with a loop of its own (PDF signing is CPU work; never on the event loop)."""
    from app.config import get_settings
    from app.documents import signing

    settings = get_settings()
    sealed = asyncio.run(signing.seal_new_field(pdf, field_name=field_name,
                                                identity=signing.sealing_identity(settings), reason=reason,
                                                tsa_url=settings.tsa_url, level=settings.sealing_level))
    return sealed.pdf, sealed.level


def _render_sealed_account(doc: AccountStatement) -> tuple[bytes, str]:
    return _seal_sync(render_account_statement(doc), f"Estado de cuenta corriente {doc.number}", "SelloCuenta")


async def account_document(ctx: TenantContext, centre_id: uuid.UUID, fmt: str, entity_id: uuid.UUID | None = None,
                           as_of: str | date | None = None) -> tuple[str, str, bytes]:
    """The account statement: a sealed PDF, a CSV or an XLSX, with exactly the figures of the account page."""
    media = {"pdf": "application/pdf", "csv": "text/csv; charset=utf-8",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
    if fmt not in media:
        raise NotFound("Formato no disponible: use pdf, csv o xlsx.")
    view = await account(ctx, centre_id, entity_id, as_of)
    stem = f"estado-de-cuenta-corriente-{view.centre.code}-{view.entity.ruc}-{view.as_of.isoformat()}"
    if fmt == "csv":
        return f"{stem}.csv", media["csv"], account_csv(_account_document(view))
    if fmt == "xlsx":
        return f"{stem}.xlsx", media["xlsx"], await offload.run(account_xlsx, _account_document(view))
    # Like every document the platform issues, the sealed PDF gets a verification code (printed with its QR on
    # every page) and goes into the registry, so /verificar answers for it.
    from app.config import get_settings
    from app.documents import verification

    code = verification.new_code("CTA")
    doc = _account_document(view, code, verification.verification_url(get_settings().base_url, code))
    pdf, level = await offload.run(_render_sealed_account, doc)
    async with get_database().transaction(ctx) as s:
        document = await verification.register_document(
            s, code=code, kind="estado_de_cuenta_corriente",
            title=f"Estado de cuenta corriente de {view.entity.name} en {view.centre.name} al "
                  f"{view.as_of.strftime('%d/%m/%Y')}", subject_type="cuenta", subject_id=uuid.uuid4(),
            subject_state="emitido", subject_state_label=f"Saldos al {view.as_of.strftime('%d/%m/%Y')}",
            entity_id=view.entity.id, counterpart_entity_id=view.administering.id, is_demo=doc.demo)
        await verification.add_revision(s, document, pdf, kind="sello_plataforma",
                                        label="Estado de cuenta corriente, sellado por la plataforma",
                                        signer="Plataforma MAC", signed_at=now_utc(), level=level)
    return f"{stem}.pdf", media["pdf"], pdf


def _render_sealed_no_debt(data: NoDebtData) -> tuple[bytes, str]:
    return _seal_sync(render_no_debt(data), f"Constancia de no adeudo {data.verification_code}", "SelloConstancia")


async def issue_no_debt_certificate(ctx: TenantContext, centre_id: uuid.UUID) -> NoDebtCertificate:
    """The finance officer's constancia de no adeudo at a centre, today: only when nothing is outstanding.
    Sealed, stored and registered under its verification code (``/verificar``)."""
    if ctx.role != ROLE_FINANZAS or ctx.entity_id is None:
        raise Forbidden("Solo el responsable de finanzas de la entidad descarga su constancia de no adeudo.")
    from app.config import get_settings
    from app.documents import verification

    view = await account(ctx, centre_id, ctx.entity_id, today_lima())
    if view.account is None:
        raise Conflict("La entidad no tiene estados de cuenta en este centro.", code="sin_cuenta")
    if view.outstanding > 0:
        raise Conflict(f"La entidad tiene un saldo pendiente de S/ {view.outstanding:,.2f} en este centro; la "
                       "constancia de no adeudo se emite cuando no hay nada pendiente.", code="con_deuda")
    code = verification.new_code("CNA")
    a = view.account
    data = NoDebtData(view.centre.name, view.centre.code, Party(view.administering.name, view.administering.ruc),
                      Party(view.entity.name, view.entity.ruc), view.as_of, now_utc(), a.charged, a.paid, a.credit,
                      sum(1 for r in view.result.statements if r.live), code,
                      verification.verification_url(get_settings().base_url, code),
                      bool(view.entity.is_demo or view.centre.is_demo))
    pdf, level = await offload.run(_render_sealed_no_debt, data)
    async with get_database().transaction(ctx) as s:
        # Re-checked in the same transaction as the insert: a payment reversed meanwhile refuses it.
        led = await ledger_module.load(s, as_of=view.as_of, centre_id=view.centre.id, entity_id=view.entity.id)
        again = _compute(led, view.as_of).account(view.entity.ruc, view.centre.code)
        if again is None or again.outstanding > 0 or again.charged != a.charged:
            raise Conflict("El saldo cambió mientras se emitía la constancia; vuelva a intentarlo.", code="con_deuda")
        cert = NoDebtCertificate(entity_id=view.entity.id, centre_id=view.centre.id,
                                 administering_entity_id=view.administering.id, verification_code=code,
                                 as_of=view.as_of, charged=a.charged, paid=a.paid, credit=a.credit,
                                 issued_by_id=ctx.user_id, sha256=hashlib.sha256(pdf).hexdigest(),
                                 signature_level=level, content=pdf)
        s.add(cert)
        await s.flush()
        document = await verification.register_document(
            s, code=code, kind="constancia_no_adeudo",
            title=f"Constancia de no adeudo de {view.entity.name} al {view.centre.name}",
            subject_type="constancia_no_adeudo", subject_id=cert.id, subject_state="emitida",
            subject_state_label=f"Sin deuda pendiente al {view.as_of.strftime('%d/%m/%Y')}",
            entity_id=view.entity.id, counterpart_entity_id=view.administering.id, is_demo=data.demo)
        await verification.add_revision(s, document, pdf, kind="sello_plataforma",
                                        label="Constancia de no adeudo, sellada por la plataforma",
                                        signer="Plataforma MAC", signed_at=now_utc(), level=level)
        await audit.record(s, ctx, action="constancia_no_adeudo", record_type="constancia_no_adeudo",
                           record_id=cert.id, after={"codigo": code, "centro": view.centre.code,
                                                     "al": view.as_of, "facturado": format(a.charged, "f")})
    return cert


async def no_debt_certificate(ctx: TenantContext, certificate_id: uuid.UUID) -> tuple[str, bytes]:
    async with get_database().transaction(ctx) as s:
        cert = await s.get(NoDebtCertificate, certificate_id)
        if cert is None:
            raise NotFound("La constancia no existe o no tiene acceso a ella.")
        await s.refresh(cert, ["content"])
        return f"constancia-no-adeudo-{cert.verification_code}.pdf", cert.content


# ------------------------------------------------------------------------------------- offline export ---


async def export_case(centre_code: str, as_of: date, *, ruc: str | None = None) -> dict:
    """The calculator's input document from the stored data of a centre (and one entity), at a cut-off:
    what counts at that date, so ``mac costs saldos --input`` gives every balance of the platform."""
    async with get_database().transaction(TenantContext.system()) as s:
        centre = await s.scalar(select(Centre).where(Centre.code == centre_code))
        if centre is None:
            raise NotFound(f"No hay un centro con código «{centre_code}».")
        entity_id = None
        if ruc:
            entity_id = await s.scalar(select(Entity.id).where(Entity.ruc == ruc))
            if entity_id is None:
                raise NotFound(f"No hay una entidad con RUC «{ruc}».")
        led = await ledger_module.load(s, as_of=as_of, centre_id=centre.id, entity_id=entity_id)
    statements = [x for x in led.statements if x.issued_on <= as_of]
    counted = {x.id for x in statements}
    payments = [type(p)(p.id, p.entity_ruc, p.centre, p.received_on, p.amount,
                        tuple(n for n in p.applies_to if n in counted), p.reference, p.siaf_expediente)
                for p in led.payments if p.received_on <= as_of]
    case = Case(as_of, tuple(statements), tuple(payments))
    balances(as_of, case.statements, case.payments)  # refused here rather than by the auditor
    return case_to_json(case)


async def count_reported(ctx: TenantContext) -> int:
    async with get_database().transaction(ctx) as s:
        return await s.scalar(select(func.count()).select_from(Payment).where(Payment.state == "reportado")) or 0

