"""Payments against PostgreSQL: reported, confirmed or rejected, registered, imported, reversed (never edited);
accounts and receivables by the balance rules; the constancia de no adeudo; reminders once per statement and
stage; the offline export; and what each tenant can see or do."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError, ProgrammingError

from app.billing_reports import payments as svc
from app.billing_reports.balances import compute, parse_case
from app.billing_reports.payment_models import Payment, PaymentReminder
from app.billing_reports.reminders import send_due_reminders
from app.db import TenantContext
from app.documents.verification import public_document
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.localtime import today_lima
from app.worker.models import OutgoingEmail
from tests.costsharing_fixtures import make_scene, scene  # noqa: F401
from tests.payments_fixtures import SUPPORT_PDF, issued, pay_scene, period_of  # noqa: F401
from tests.statements_fixtures import clean_outbox, pdf_text  # noqa: F401
from tests.worker_fixtures import runtime, worker_settings  # noqa: F401

pytestmark = pytest.mark.usefixtures("clean_outbox")
D = Decimal


def transfer(scene, amount: str, *, days_ago: int = 1, siaf: str = "123", statements=()) -> svc.PaymentInput:  # noqa: ANN001
    return svc.PaymentInput(centre_id=str(scene.admin.centre.id),
                            received_on=(today_lima() - timedelta(days=days_ago)).isoformat(), amount=amount,
                            method="transferencia", resolution="RES-045-2026", siaf_expediente=siaf,
                            fiscal_year=str(today_lima().year), statements=[str(s) for s in statements],
                            support_filename="resolucion.pdf", support_pdf=SUPPORT_PDF)


@pytest.fixture
async def account(db, pay_scene):  # noqa: F811
    """A's statement of 26,900.00 issued 40 days ago, due 10 days ago."""
    scene = pay_scene
    period = await period_of(scene, 3)
    today = today_lima()
    st = await issued(db, scene, scene.a, period, "26900.00", today - timedelta(days=40), today - timedelta(days=10))
    return scene, period, st


async def test_a_reported_transfer_counts_only_once_the_coordinator_confirms_it(db, account):
    scene, _period, st = account
    finance = scene.a.ctx("finanzas")
    payment = await svc.report_payment(finance, transfer(scene, "10000.00", statements=[st.id]))
    assert (payment.state, payment.source, payment.siaf_expediente) == ("reportado", "reportado", "0000123")
    view = await svc.account(finance, scene.admin.centre.id)
    assert (view.account.paid, view.account.outstanding, view.account.overdue) == (D("0.00"), D("26900.00"),
                                                                                  D("26900.00"))
    await svc.confirm_payment(scene.coordinator, payment.id)
    view = await svc.account(finance, scene.admin.centre.id)
    r = view.result.statement(st.number)
    assert (r.paid, r.outstanding, r.status, r.days_overdue, r.bucket) == (D("10000.00"), D("16900.00"), "vencido",
                                                                          10, "1-30")
    assert [(a.statement, a.amount) for a in view.result.payment(payment.number).applied] == [
        (st.number, D("10000.00"))]
    with pytest.raises(Conflict):
        await svc.confirm_payment(scene.coordinator, payment.id)
    # The same SIAF expediente and fiscal year cannot be reported twice.
    with pytest.raises(Conflict) as err:
        await svc.report_payment(finance, transfer(scene, "10000.00"))
    assert err.value.field == "expediente_siaf"


async def test_a_rejection_needs_a_reason_and_the_payment_never_counts(db, account):
    scene, _period, _st = account
    payment = await svc.report_payment(scene.a.ctx("finanzas"), transfer(scene, "500.00"))
    with pytest.raises(ValidationFailed):
        await svc.reject_payment(scene.coordinator, payment.id, "no")
    await svc.reject_payment(scene.coordinator, payment.id, "El expediente SIAF no corresponde a este centro.")
    view = await svc.account(scene.coordinator, scene.admin.centre.id, scene.a.entity.id)
    assert view.account.paid == 0 and view.payments[0].payment.state == "rechazado"


@pytest.mark.parametrize(("field", "value", "message"), [
    ("amount", "20.000,00", "punto decimal"), ("amount", "0", "mayor que cero"), ("amount", "-5.00", "punto decimal"),
    ("received_on", "2999-01-01", "posterior a hoy"), ("siaf_expediente", "ABC", "expediente SIAF"),
    ("fiscal_year", "", "año fiscal"), ("method", "cheque", "medio de pago"),
])
async def test_a_bad_payment_is_refused_field_by_field_and_nothing_is_stored(db, account, field, value, message):
    scene, _period, _st = account
    data = transfer(scene, "100.00")
    setattr(data, field, value)
    with pytest.raises(ValidationFailed) as err:
        await svc.report_payment(scene.a.ctx("finanzas"), data)
    assert message in err.value.message
    async with db.transaction(TenantContext.system()) as s:
        assert await s.scalar(select(func.count()).select_from(Payment).where(
            Payment.entity_id == scene.a.entity.id)) == 0


async def test_the_support_must_be_a_pdf(db, account):
    scene, _period, _st = account
    data = transfer(scene, "100.00")
    data.support_pdf = b"GIF89a not a pdf"
    with pytest.raises(ValidationFailed) as err:
        await svc.report_payment(scene.a.ctx("finanzas"), data)
    assert err.value.field == "sustento"


async def test_a_confirmed_payment_is_never_edited_or_deleted_only_reversed(db, account):
    scene, _period, _st = account
    payment = await svc.register_payment(scene.coordinator, scene.a.entity.id, transfer(scene, "26900.00"))
    assert payment.state == "confirmado"
    for statement in (update(Payment).where(Payment.id == payment.id).values(amount=D("1.00")),
                      delete(Payment).where(Payment.id == payment.id)):
        with pytest.raises(DBAPIError, match="no se modifica ni se elimina"):
            async with db.transaction(TenantContext.system()) as s:  # not even the system
                await s.execute(statement)
    view = await svc.account(scene.coordinator, scene.admin.centre.id, scene.a.entity.id)
    assert view.account.outstanding == 0
    reversal = await svc.reverse_payment(scene.coordinator, payment.id, "El banco devolvió la transferencia.")
    view = await svc.account(scene.coordinator, scene.admin.centre.id, scene.a.entity.id)
    assert view.account.outstanding == D("26900.00") and view.payments[0].reversal.id == reversal.id
    # The balance before the reversal's date still shows the payment, as it was then.
    earlier = await svc.account(scene.coordinator, scene.admin.centre.id, scene.a.entity.id,
                                today_lima() - timedelta(days=1))
    assert earlier.account.outstanding == 0
    with pytest.raises(Conflict):
        await svc.reverse_payment(scene.coordinator, payment.id, "Otra vez la misma reversión.")
    async with db.transaction(TenantContext.system()) as s:
        actions = (await s.scalars(text("SELECT action FROM audit_log WHERE record_id = :r ORDER BY seq"),
                                   {"r": str(payment.id)})).all()
    assert actions == ["pago_registrado", "pago_revertido"]


async def test_an_overpayment_is_credit_and_a_corrected_statement_takes_the_payments_of_the_old_one(db, account):
    scene, period, st = account
    coordinator = scene.coordinator
    await svc.register_payment(coordinator, scene.a.entity.id, transfer(scene, "30000.00", statements=[st.id]))
    view = await svc.account(coordinator, scene.admin.centre.id, scene.a.entity.id)
    assert (view.account.outstanding, view.account.credit) == (D("0.00"), D("3100.00"))
    today = today_lima()
    v2 = await issued(db, scene, scene.a, period, "31000.00", today - timedelta(days=5), today + timedelta(days=25),
                      replaces=st)
    view = await svc.account(coordinator, scene.admin.centre.id, scene.a.entity.id)
    assert view.result.statement(st.number).status == "reemplazado"
    assert (view.result.statement(v2.number).paid, view.account.outstanding, view.account.credit) == (
        D("30000.00"), D("1000.00"), D("0.00"))
    effect = await svc.correction_effect(coordinator, v2.id)
    assert (effect.old_amount, effect.new_amount, effect.difference) == (D("26900.00"), D("31000.00"), D("4100.00"))
    assert (effect.outstanding_before, effect.credit_before) == (D("0.00"), D("3100.00"))
    assert (effect.outstanding_after, effect.credit_after) == (D("1000.00"), D("0.00"))


async def test_the_import_confirms_reported_transfers_registers_the_rest_and_refuses_all_on_one_bad_row(db, account):
    scene, _period, st = account
    reported = await svc.report_payment(scene.a.ctx("finanzas"), transfer(scene, "10000.00", siaf="777"))
    day = (today_lima() - timedelta(days=1)).isoformat()
    year = today_lima().year
    head = "ruc,fecha,importe,medio,resolucion,expediente_siaf,anio_fiscal,operacion,estados\n"
    good = (f"{scene.a.entity.ruc},{day},10000.00,transferencia,RES-045,777,{year},,\n"
            f"{scene.a.entity.ruc},{day},16900.00,transferencia,RES-046,778,{year},,{st.number}\n")
    bad = f"{scene.b.entity.ruc},{day},20.000,00,deposito,,,OP-1,\n"
    refused = await svc.import_transfers(scene.coordinator, scene.admin.centre.id, (head + good + bad).encode())
    assert not refused.applied and [r.line for r in refused.errors] == [4]
    assert [r.outcome for r in refused.rows] == ["confirmado", "registrado", "error"]
    view = await svc.account(scene.coordinator, scene.admin.centre.id, scene.a.entity.id)
    assert view.account.paid == 0 and len(view.payments) == 1  # nothing stored: the reported one still waits
    done = await svc.import_transfers(scene.coordinator, scene.admin.centre.id, (head + good).encode())
    assert done.applied and (done.confirmed, done.registered) == (1, 1)
    view = await svc.account(scene.coordinator, scene.admin.centre.id, scene.a.entity.id)
    assert view.account.outstanding == 0
    assert {pv.payment.number: pv.payment.state for pv in view.payments}[reported.number] == "confirmado"
    again = await svc.import_transfers(scene.coordinator, scene.admin.centre.id, (head + good).encode())
    assert not again.applied and all("ya estaba confirmado" in r.message for r in again.rows)


async def test_the_constancia_de_no_adeudo_only_when_nothing_is_outstanding_and_verifiable(db, account):
    scene, _period, _st = account
    finance = scene.a.ctx("finanzas")
    with pytest.raises(Conflict) as err:
        await svc.issue_no_debt_certificate(finance, scene.admin.centre.id)
    assert "26,900.00" in err.value.message
    await svc.register_payment(scene.coordinator, scene.a.entity.id, transfer(scene, "26900.00"))
    cert = await svc.issue_no_debt_certificate(finance, scene.admin.centre.id)
    filename, pdf = await svc.no_debt_certificate(finance, cert.id)
    assert pdf.startswith(b"%PDF") and cert.verification_code in filename
    body = pdf_text(pdf)
    assert "CONSTANCIA DE NO ADEUDO" in body and scene.a.entity.ruc in body and cert.verification_code in body
    async with db.transaction(TenantContext.anonymous()) as s:
        public = await public_document(s, cert.verification_code)
    assert public.kind == "constancia_no_adeudo" and public.latest.level
    with pytest.raises(NotFound):  # another entity's constancia does not exist for B
        await svc.no_debt_certificate(scene.b.ctx("finanzas"), cert.id)


async def test_an_entity_sees_only_its_own_accounts_and_payments(db, tenants, account):
    scene, period, _st = account
    today = today_lima()
    await issued(db, scene, scene.b, period, "800.00", today - timedelta(days=40), today - timedelta(days=10))
    pa = await svc.report_payment(scene.a.ctx("finanzas"), transfer(scene, "100.00"))
    b = scene.b.ctx("finanzas")
    with pytest.raises(NotFound):
        await svc.get_payment(b, pa.id)
    with pytest.raises(NotFound):
        await svc.payment_support(b, pa.id)
    with pytest.raises(NotFound):  # B asking for A's account gets nothing
        await svc.account(b, scene.admin.centre.id, scene.a.entity.id)
    async with db.transaction(b) as s:
        assert await s.scalar(select(func.count()).select_from(Payment).where(
            Payment.entity_id == scene.a.entity.id)) == 0
    mine = await svc.account(b, scene.admin.centre.id)
    assert mine.account.charged == D("800.00") and mine.payments == []
    # B cannot name A's statement, nor report a payment already confirmed, nor confirm its own.
    with pytest.raises(ValidationFailed):
        await svc.report_payment(b, transfer(scene, "100.00", siaf="9", statements=[_st.id]))
    with pytest.raises((ProgrammingError, DBAPIError)):
        async with db.transaction(b) as s:
            await s.execute(insert(Payment).values(
                id=pa.id.__class__(int=pa.id.int + 1), number="PAG-X-1", entity_id=scene.b.entity.id,
                centre_id=scene.admin.centre.id, received_on=today, amount=D("1.00"), method="deposito",
                bank_operation="1", state="confirmado", source="reportado"))
    for finance in (b, scene.a.ctx("finanzas")):  # a participant never confirms, not even its own payment
        with pytest.raises(Forbidden):
            await svc.confirm_payment(finance, pa.id)
    # A coordinator of another centre neither sees nor confirms this centre's payments.
    other = await tenants.create(roles=("coordinador_centro",), with_centre=True)
    with pytest.raises(NotFound):
        await svc.confirm_payment(other.ctx("coordinador_centro"), pa.id)
    assert (await svc.receivables(other.ctx("coordinador_centro"))).rows == []
    # The centre's coordinator sees both accounts; the SGP sees them too (with every other centre's).
    mine = await svc.receivables(scene.coordinator)
    assert {r.entity.id for r in mine.rows} == {scene.a.entity.id, scene.b.entity.id}
    national = await svc.receivables(scene.sgp_ctx)
    assert {scene.a.entity.id, scene.b.entity.id} <= {r.entity.id for r in national.rows}
    with pytest.raises(Forbidden):
        await svc.receivables(b)


async def test_reminders_are_sent_once_per_statement_and_stage(db, account, runtime):  # noqa: F811
    scene, period, st = account
    today = today_lima()
    soon = await issued(db, scene, scene.b, period, "500.00", today - timedelta(days=20), today + timedelta(days=3))

    def run(day):  # noqa: ANN001, ANN202
        with runtime.transaction() as s:
            return [(d.statement_number, d.stage) for d in send_due_reminders(s, "http://mac.test", day)]

    first = await asyncio.to_thread(run, today)
    assert (st.number, "vencido") in first and (soon.number, "por_vencer") in first
    assert [x for x in await asyncio.to_thread(run, today) if x[0] in (st.number, soon.number)] == []
    later = await asyncio.to_thread(run, today + timedelta(days=4))
    assert (soon.number, "vencido") in later and all(x[0] != st.number for x in later)
    async with db.transaction(TenantContext.system()) as s:
        stages = (await s.execute(select(PaymentReminder.stage).where(PaymentReminder.statement_id == soon.id)
                                  .order_by(PaymentReminder.created_at))).scalars().all()
        mails = (await s.scalars(select(OutgoingEmail.subject).where(OutgoingEmail.entity_id == scene.b.entity.id)
                                 )).all()
    assert sorted(stages) == ["por_vencer", "vencido"]
    assert sorted(m.split(" ")[3] for m in mails if soon.number in m) == ["por", "vencido"]


async def test_the_export_rederives_every_balance_offline(db, account):
    scene, _period, st = account
    await svc.register_payment(scene.coordinator, scene.a.entity.id, transfer(scene, "1000.00", statements=[st.id]))
    doc = await svc.export_case(scene.admin.centre.code, today_lima())
    offline = compute(parse_case(doc))
    online = await svc.receivables(scene.coordinator, today_lima(), scene.admin.centre.id)
    assert {(a.entity_ruc, a.outstanding, a.paid) for a in offline.accounts} == {
        (r.entity.ruc, r.account.outstanding, r.account.paid) for r in online.rows}
    assert doc["payments"][0]["applies_to"] == [st.number]


async def test_a_generated_statement_gets_the_centres_due_date_and_shows_the_account(db, scene, runtime):  # noqa: F811
    from app.billing_reports import services as statements
    from app.billing_reports.generation import generate_statement
    from tests.statements_fixtures import current_statements, files_of, published_period

    today = today_lima()
    earlier = await issued(db, scene, scene.a, await period_of(scene, 1), "1000.00", today - timedelta(days=60),
                           today - timedelta(days=30))
    await svc.register_payment(scene.coordinator, scene.a.entity.id, transfer(scene, "400.00", days_ago=5))
    assert await svc.set_payment_terms(scene.coordinator, scene.admin.centre.id, "45") == 45
    with pytest.raises(ValidationFailed):
        await svc.set_payment_terms(scene.coordinator, scene.admin.centre.id, "0")
    period = await published_period(scene)
    await statements.start_batch(scene.coordinator, period.id)
    batch = await current_statements(db, period.id)
    mine = next(st for st in batch if st.entity_id == scene.a.entity.id)

    def generate(statement_id):  # noqa: ANN001, ANN202
        with runtime.transaction() as s:
            generate_statement(s, statement_id, runtime.settings)

    for each in batch:  # the whole batch, as the worker would: nothing is left pending for other tests
        await asyncio.to_thread(generate, each.id)
    st = next(x for x in await current_statements(db, period.id) if x.id == mine.id)
    assert st.due_on == st.issued_on + timedelta(days=45)
    account = st.data["account"]
    # Previous balance at the earlier statement's issue (1,000.00), less the 400.00 received since, plus this
    # period's charges: the balance due on the day it was issued.
    assert (D(account["previous_balance"]), D(account["payments_since_last"]), D(account["charges"])) == (
        D("1000.00"), D("400.00"), st.total)
    assert D(account["balance_due"]) == D("600.00") + st.total
    text = pdf_text((await files_of(db, st.id))["pdf"].content)
    assert "ESTADO DE LA CUENTA" in text and "SALDO POR PAGAR" in text and earlier.number not in text


async def test_mac_costs_saldos_exportar_writes_the_calculators_input_from_stored_data(db, account, capsys):
    import json

    from app.cli import main as mac

    scene, _period, st = account
    await svc.register_payment(scene.coordinator, scene.a.entity.id, transfer(scene, "900.00"))
    code = await asyncio.to_thread(mac, ["costs", "saldos", "--centro", scene.admin.centre.code, "--ruc",
                                         scene.a.entity.ruc, "--al", today_lima().isoformat(), "--exportar"])
    out = capsys.readouterr()
    assert code == 0, out.err
    doc = json.loads(out.out)
    assert [s["id"] for s in doc["statements"]] == [st.number] and doc["payments"][0]["amount"] == "900.00"
    assert compute(parse_case(doc)).accounts[0].outstanding == D("26000.00")
    code = await asyncio.to_thread(mac, ["costs", "saldos", "--centro", "NO-EXISTE", "--al", "2026-01-01",
                                         "--exportar"])
    out = capsys.readouterr()
    assert (code, out.out) == (2, "") and "NO-EXISTE" in out.err


async def test_no_payment_table_shows_one_entitys_rows_to_another_or_to_another_centres_coordinator(db, tenants,
                                                                                                   account):
    from app.billing_reports.payment_models import (
        NoDebtCertificate,
        PaymentReminder,
        PaymentReversal,
        PaymentTarget,
    )

    scene, _period, st = account
    paid = await svc.register_payment(scene.coordinator, scene.a.entity.id, transfer(scene, "26900.00",
                                                                                     statements=[st.id]))
    await svc.issue_no_debt_certificate(scene.a.ctx("finanzas"), scene.admin.centre.id)
    await svc.reverse_payment(scene.coordinator, paid.id, "Transferencia anulada por el banco pagador.")
    async with db.transaction(TenantContext.system()) as s:
        await s.execute(insert(PaymentReminder).values(id=paid.id, statement_id=st.id, entity_id=scene.a.entity.id,
                                                       centre_id=scene.admin.centre.id, stage="vencido",
                                                       outstanding=D("26900.00")))
    other = await tenants.create(roles=("coordinador_centro", "finanzas"), with_centre=True)
    tables = (Payment, PaymentTarget, PaymentReversal, NoDebtCertificate, PaymentReminder)

    async def visible(ctx) -> list[int]:  # noqa: ANN001
        async with db.transaction(ctx) as s:
            return [await s.scalar(select(func.count()).select_from(t).where(t.entity_id == scene.a.entity.id))
                    for t in tables]

    for outsider in (scene.b.ctx("finanzas"), scene.b.ctx("gestor_entidad"), other.ctx("coordinador_centro"),
                     other.ctx("finanzas")):
        assert await visible(outsider) == [0, 0, 0, 0, 0]
    assert await visible(scene.a.ctx("finanzas")) == [1, 1, 1, 1, 1]
    assert await visible(scene.coordinator) == [1, 1, 1, 1, 1]
    assert await visible(scene.sgp_ctx) == [1, 1, 1, 1, 1]
    # Entries are appended, never changed: not even the centre's coordinator rewrites a reversal.
    with pytest.raises(DBAPIError, match="no se modifican ni se eliminan"):
        async with db.transaction(scene.coordinator) as s:
            await s.execute(update(PaymentReversal).where(PaymentReversal.payment_id == paid.id)
                            .values(reason="otro motivo"))


async def test_roles_that_do_not_handle_payments_are_refused(db, tenants, account):
    scene, _period, _st = account
    other = await tenants.create(roles=("coordinador_centro",), with_centre=True)
    with pytest.raises(Forbidden):  # the manager is not the finance officer
        await svc.report_payment(scene.a.ctx("gestor_entidad"), transfer(scene, "10.00"))
    with pytest.raises(Forbidden):  # another centre's coordinator registers nothing here
        await svc.register_payment(other.ctx("coordinador_centro"), scene.a.entity.id, transfer(scene, "10.00"))
    with pytest.raises(Forbidden):
        await svc.import_transfers(other.ctx("coordinador_centro"), scene.admin.centre.id,
                                   b"ruc,fecha,importe,medio\n" + scene.a.entity.ruc.encode() + b",2026-01-01,1.00,deposito\n")
    with pytest.raises(Forbidden):
        await svc.set_payment_terms(other.ctx("coordinador_centro"), scene.admin.centre.id, "20")
    with pytest.raises(Forbidden):
        await svc.request_reminders(other.ctx("coordinador_centro"), scene.admin.centre.id)
    with pytest.raises(Forbidden):  # the SGP reads, it does not decide
        await svc.register_payment(scene.sgp_ctx, scene.a.entity.id, transfer(scene, "10.00"))
    with pytest.raises(Forbidden):
        await svc.issue_no_debt_certificate(scene.coordinator, scene.admin.centre.id)


async def test_the_coordinators_reminder_goes_through_the_outbox_to_the_accounts_with_something_overdue(
        db, account, runtime):  # noqa: F811
    from app.billing_reports.reminders import send_account_reminder
    from app.worker.models import OutboxMessage

    scene, _period, st = account
    await svc.request_reminders(scene.coordinator, scene.admin.centre.id)
    async with db.transaction(TenantContext.system()) as s:
        queued = await s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.actor_name == "account_reminder",
            OutboxMessage.message.contains({"args": [str(scene.admin.centre.id), None]})))
    assert queued == 1  # the request only queued it; the worker writes the mails

    def run():  # noqa: ANN202
        with runtime.transaction() as s:
            return send_account_reminder(s, scene.admin.centre.id, None, "http://mac.test")

    assert await asyncio.to_thread(run) == 1  # A's one finance officer; B owes nothing here
    async with db.transaction(TenantContext.system()) as s:
        body = await s.scalar(select(OutgoingEmail.body_text).where(
            OutgoingEmail.entity_id == scene.a.entity.id, OutgoingEmail.subject.like("Recordatorio de pago%")))
    assert st.number in body and "S/ 26,900.00" in body
