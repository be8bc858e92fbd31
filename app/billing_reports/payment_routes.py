"""Payments and balances pages: thin controllers (parse, authorise, call one service, render).

* ``/cuentas``: the finance officer's accounts, one per centre; ``/cuentas/{centro}``: the account (every
  statement, every payment and how it was applied, balance, what is overdue and since when), the form to
  report a payment, the account statement (sealed PDF, CSV, XLSX) and the constancia de no adeudo.
* ``/cobranza``: receivables with ageing (the coordinator's centres; national for the SGP) and the collection
  trend; an account seen by the coordinator, with confirm / reject / reverse, direct registration, the CSV
  import of received transfers with its row report, reminders and the centre's payment terms.

Row-level security decides what exists for the caller: another entity's account or payment answers 404.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.plugins.flash import flash
from litestar.response import Redirect

from app.auth.actor import request_context
from app.auth.guards import requires_role
from app.billing_reports import payments as svc
from app.billing_reports.balances import BUCKET_LABELS, BUCKETS, STATUS_LABELS
from app.billing_reports.payment_models import METHOD_LABELS, PAYMENT_STATE_LABELS
from app.db import ROLE_COORDINADOR, ROLE_FINANZAS, ROLE_SUPERVISOR_SGP
from app.errors import DomainError, NotFound, ValidationFailed
from app.web.forms import Form
from app.web.page import Page

Multipart = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
FINANCE = [requires_role(ROLE_FINANZAS)]
COORDINATOR = [requires_role(ROLE_COORDINADOR)]
COLLECTORS = [requires_role(ROLE_COORDINADOR, ROLE_SUPERVISOR_SGP)]
SUPPORT_READERS = [requires_role(ROLE_FINANZAS, ROLE_COORDINADOR, ROLE_SUPERVISOR_SGP)]
LABELS = {"status": STATUS_LABELS, "bucket": BUCKET_LABELS, "buckets": BUCKETS, "method": METHOD_LABELS,
          "payment_state": PAYMENT_STATE_LABELS}


def _download(filename: str, media_type: str, content: bytes) -> Response:
    return Response(content, media_type=media_type, headers={
        "Content-Disposition": f"attachment; filename=\"{filename}\"; filename*=UTF-8''{quote(filename)}",
        "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})


def _uuid(value: Any, field: str) -> uuid.UUID | None:
    if value in (None, ""):
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise ValidationFailed("Identificador no válido.", field=field) from None


async def _file(value: Any) -> tuple[str, bytes] | None:
    if isinstance(value, UploadFile) and value.filename:
        content = await value.read()
        return (value.filename, content) if content else None
    return None


def _list(data: dict, name: str) -> list[str]:
    value = data.get(name)
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


async def payment_input(centre_id: uuid.UUID, data: dict) -> svc.PaymentInput:
    support = await _file(data.get("sustento"))
    return svc.PaymentInput(
        centre_id=str(centre_id), received_on=str(data.get("fecha", "")), amount=str(data.get("importe", "")),
        method=str(data.get("medio", "")), resolution=str(data.get("resolucion", "")),
        siaf_expediente=str(data.get("expediente_siaf", "")), fiscal_year=str(data.get("anio_fiscal", "")),
        bank_operation=str(data.get("operacion", "")), statements=_list(data, "estados"),
        support_filename=support[0] if support else "", support_pdf=support[1] if support else None)


def _form_values(data: dict) -> dict:
    return {k: v for k, v in data.items() if isinstance(v, str) and k != "_csrf_token"} | {
        "estados": _list(data, "estados")}


def _account_page(view: svc.AccountView, *, form: dict | None = None, errors: dict | None = None,
                  status_code: int = 200) -> Page:
    return Page("billing_reports/account.html", status_code=status_code, context={
        "v": view, "labels": LABELS, "form": form or {}, "errors": errors or {}})


class AccountsController(Controller):
    """The participant's finance officer: its accounts, payments and documents."""

    path = "/cuentas"
    guards = FINANCE
    include_in_schema = False  # pages and downloads for people, not the API

    @get("/", name="accounts:list")
    async def accounts(self, request: Request, al: FromQuery[str | None] = None) -> Page:
        rows = await svc.my_accounts(request_context(request), al)
        return Page("billing_reports/accounts.html", context={"rows": rows, "al": al or "", "labels": LABELS})

    @get("/{centre_id:uuid}", name="accounts:detail")
    async def account(self, request: Request, centre_id: FromPath[uuid.UUID], al: FromQuery[str | None] = None) -> Page:
        return _account_page(await svc.account(request_context(request), centre_id, None, al))

    @post("/{centre_id:uuid}/pagos", name="accounts:report")
    async def report(self, request: Request, centre_id: FromPath[uuid.UUID], data: Multipart) -> Page | Redirect:
        ctx = request_context(request)
        try:
            payment = await svc.report_payment(ctx, await payment_input(centre_id, data))
        except (ValidationFailed, DomainError) as exc:
            if exc.status_code in (403, 404):
                raise
            view = await svc.account(ctx, centre_id)
            return _account_page(view, form=_form_values(data), errors={exc.field or "general": exc.message},
                                 status_code=exc.status_code)
        flash(request, f"Se reportó el pago {payment.number}. Contará en el saldo cuando la entidad administradora "
                       "lo confirme.", category="exito")
        return Redirect(f"/cuentas/{centre_id}")

    @get("/{centre_id:uuid}/descargar/{fmt:str}", name="accounts:download")
    async def download(self, request: Request, centre_id: FromPath[uuid.UUID], fmt: FromPath[str],
                       al: FromQuery[str | None] = None) -> Response:
        return _download(*await svc.account_document(request_context(request), centre_id, fmt, None, al))

    @post("/{centre_id:uuid}/constancia", name="accounts:certificate")
    async def certificate(self, request: Request, centre_id: FromPath[uuid.UUID]) -> Redirect:
        try:
            cert = await svc.issue_no_debt_certificate(request_context(request), centre_id)
        except DomainError as exc:
            if exc.status_code in (403, 404):
                raise
            flash(request, exc.message, category="error")
            return Redirect(f"/cuentas/{centre_id}")
        flash(request, f"Se emitió la constancia de no adeudo {cert.verification_code}.", category="exito")
        return Redirect(f"/cuentas/{centre_id}#constancias")


class PaymentDocumentsController(Controller):
    """A payment's supporting PDF and a constancia: its entity's finance officer, the centre's coordinator and
    the SGP (row-level security decides which exist for each)."""

    path = "/cuentas"
    guards = SUPPORT_READERS
    include_in_schema = False  # downloads for people, not the API

    @get("/constancias/{certificate_id:uuid}", name="accounts:certificate_file")
    async def certificate_file(self, request: Request, certificate_id: FromPath[uuid.UUID]) -> Response:
        filename, content = await svc.no_debt_certificate(request_context(request), certificate_id)
        return _download(filename, "application/pdf", content)

    @get("/pagos/{payment_id:uuid}/sustento", name="accounts:support")
    async def support(self, request: Request, payment_id: FromPath[uuid.UUID]) -> Response:
        filename, content = await svc.payment_support(request_context(request), payment_id)
        return _download(filename, "application/pdf", content)


class CollectionController(Controller):
    """The administering entity's coordinator (its centres) and the SGP (every centre, read-only)."""

    path = "/cobranza"
    include_in_schema = False  # pages and downloads for people, not the API
    guards = COLLECTORS

    @get("/", name="collection:receivables")
    async def receivables(self, request: Request, al: FromQuery[str | None] = None,
                          centro: FromQuery[str | None] = None) -> Page:
        ctx = request_context(request)
        data = await svc.receivables(ctx, al, _uuid(centro, "centro"))
        trend = await svc.collection_trend(ctx, 12, al)
        pending = await svc.pending_payments(ctx) if ctx.role == ROLE_COORDINADOR else []
        peak = max([m.charged for m in trend] + [m.collected for m in trend] + [1])
        return Page("billing_reports/receivables.html", context={
            "data": data, "trend": trend, "peak": peak, "pending": pending, "al": al or "", "centro": centro or "",
            "labels": LABELS})

    @get("/{centre_id:uuid}/{entity_id:uuid}", name="collection:account")
    async def account(self, request: Request, centre_id: FromPath[uuid.UUID], entity_id: FromPath[uuid.UUID],
                      al: FromQuery[str | None] = None) -> Page:
        return _account_page(await svc.account(request_context(request), centre_id, entity_id, al))

    @get("/{centre_id:uuid}/{entity_id:uuid}/descargar/{fmt:str}", name="collection:download")
    async def download(self, request: Request, centre_id: FromPath[uuid.UUID], entity_id: FromPath[uuid.UUID],
                       fmt: FromPath[str], al: FromQuery[str | None] = None) -> Response:
        return _download(*await svc.account_document(request_context(request), centre_id, fmt, entity_id, al))

    @post("/{centre_id:uuid}/{entity_id:uuid}/pagos", guards=COORDINATOR, name="collection:register")
    async def register(self, request: Request, centre_id: FromPath[uuid.UUID], entity_id: FromPath[uuid.UUID],
                       data: Multipart) -> Page | Redirect:
        ctx = request_context(request)
        try:
            payment = await svc.register_payment(ctx, entity_id, await payment_input(centre_id, data))
        except DomainError as exc:
            if exc.status_code in (403, 404):
                raise
            view = await svc.account(ctx, centre_id, entity_id)
            return _account_page(view, form=_form_values(data), errors={exc.field or "general": exc.message},
                                 status_code=exc.status_code)
        flash(request, f"Se registró y confirmó el pago {payment.number}.", category="exito")
        return Redirect(f"/cobranza/{centre_id}/{entity_id}")

    @post("/{centre_id:uuid}/importar", guards=COORDINATOR, name="collection:import")
    async def import_csv(self, request: Request, centre_id: FromPath[uuid.UUID], data: Multipart) -> Page:
        upload = await _file(data.get("archivo"))
        report = await svc.import_transfers(request_context(request), centre_id, upload[1] if upload else b"")
        return Page("billing_reports/import_report.html", status_code=200 if report.applied else 422,
                    context={"report": report, "centre_id": centre_id})

    @post("/{centre_id:uuid}/recordatorios", guards=COORDINATOR, name="collection:remind")
    async def remind(self, request: Request, centre_id: FromPath[uuid.UUID], data: Form) -> Redirect:
        entity_id = _uuid(data.get("entidad"), "entidad")
        await svc.request_reminders(request_context(request), centre_id, entity_id)
        flash(request, "Se enviará un recordatorio a los responsables de finanzas de las cuentas con saldo vencido.",
              category="exito")
        return Redirect(f"/cobranza/{centre_id}/{entity_id}" if entity_id else "/cobranza")

    @post("/{centre_id:uuid}/plazo", guards=COORDINATOR, name="collection:terms")
    async def terms(self, request: Request, centre_id: FromPath[uuid.UUID], data: Form) -> Redirect:
        try:
            days = await svc.set_payment_terms(request_context(request), centre_id, str(data.get("dias", "")))
        except ValidationFailed as exc:
            flash(request, exc.message, category="error")
        else:
            flash(request, f"Los estados de cuenta que se emitan vencerán {days} días calendario después de su "
                           "emisión.", category="exito")
        return Redirect("/cobranza")

    @post("/pagos/{payment_id:uuid}/confirmar", guards=COORDINATOR, name="collection:confirm")
    async def confirm(self, request: Request, payment_id: FromPath[uuid.UUID], data: Form) -> Redirect:
        return await self._decide(request, payment_id, data, lambda ctx: svc.confirm_payment(ctx, payment_id),
                                  "Se confirmó el pago {n}; ya cuenta en el saldo.")

    @post("/pagos/{payment_id:uuid}/rechazar", guards=COORDINATOR, name="collection:reject")
    async def reject(self, request: Request, payment_id: FromPath[uuid.UUID], data: Form) -> Redirect:
        reason = str(data.get("motivo", ""))
        return await self._decide(request, payment_id, data, lambda ctx: svc.reject_payment(ctx, payment_id, reason),
                                  "Se rechazó el pago {n}.")

    @post("/pagos/{payment_id:uuid}/revertir", guards=COORDINATOR, name="collection:reverse")
    async def reverse(self, request: Request, payment_id: FromPath[uuid.UUID], data: Form) -> Redirect:
        reason, when = str(data.get("motivo", "")), str(data.get("fecha", ""))
        return await self._decide(request, payment_id, data,
                                  lambda ctx: svc.reverse_payment(ctx, payment_id, reason, when),
                                  "Se registró la reversión del pago {n}; deja de contar en el saldo.")

    async def _decide(self, request: Request, payment_id: uuid.UUID, data: dict, action, message: str) -> Redirect:  # noqa: ANN001
        ctx = request_context(request)
        view = await svc.get_payment(ctx, payment_id)  # 404 for what the caller cannot see
        back = str(data.get("volver", "")) or f"/cobranza/{view.payment.centre_id}/{view.payment.entity_id}"
        if not back.startswith("/cobranza"):
            raise NotFound("Destino no válido.")
        try:
            await action(ctx)
        except DomainError as exc:
            if exc.status_code in (403, 404):
                raise
            flash(request, exc.message, category="error")
        else:
            flash(request, message.format(n=view.payment.number), category="exito")
        return Redirect(back)


controllers = [AccountsController, PaymentDocumentsController, CollectionController]
