"""The balance rules, worked by hand: partial payments, credit carried to the next statement, corrected
statements, same-day payments, accounts kept apart, ageing at every bucket boundary, and each refusal."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from app.billing_reports.balances import (
    BalanceInputError,
    PaymentIn,
    StatementIn,
    balances,
    compute,
    parse_case,
    statement_account,
)

RENIEC, SUNAT = "20295613620", "20131312955"
CALLAO, VENTANILLA = "MAC-CALLAO", "MAC-VENTANILLA"
D = Decimal


def st(sid: str, amount: str, *, issued: str = "2026-11-20", due: str = "2026-12-20", period: str = "2026-10",
       ruc: str = RENIEC, centre: str = CALLAO, replaces: str | None = None) -> StatementIn:
    return StatementIn(sid, ruc, centre, period, date.fromisoformat(issued), date.fromisoformat(due), D(amount),
                       replaces)


def pay(pid: str, amount: str, received: str, *applies: str, ruc: str = RENIEC, centre: str = CALLAO) -> PaymentIn:
    return PaymentIn(pid, ruc, centre, date.fromisoformat(received), D(amount), tuple(applies))


def test_a_partial_payment_leaves_the_rest_outstanding_and_pending_until_the_due_date():
    result = balances(date(2026, 12, 1), [st("EC-10", "26900.00")], [pay("P1", "10000.00", "2026-11-25")])
    s = result.statement("EC-10")
    assert (s.paid, s.outstanding, s.status, s.days_overdue, s.bucket) == (D("10000.00"), D("16900.00"), "parcial",
                                                                          0, "al_dia")
    account = result.account(RENIEC, CALLAO)
    assert (account.charged, account.paid, account.outstanding, account.credit, account.overdue) == (
        D("26900.00"), D("10000.00"), D("16900.00"), D("0.00"), D("0.00"))
    # Past the due date the same statement is overdue, with what is still owed.
    later = balances(date(2027, 1, 5), [st("EC-10", "26900.00")], [pay("P1", "10000.00", "2026-11-25")])
    assert (later.statement("EC-10").status, later.statement("EC-10").days_overdue) == ("vencido", 16)
    assert later.account(RENIEC, CALLAO).overdue == D("16900.00")


def test_an_overpayment_is_carried_as_credit_and_consumed_by_the_next_statement():
    october = st("EC-10", "1000.00", issued="2026-11-20", due="2026-12-20")
    november = st("EC-11", "800.00", issued="2026-12-20", due="2027-01-19", period="2026-11")
    payment = pay("P1", "1500.00", "2026-11-30")
    before = balances(date(2026, 12, 10), [october, november], [payment])
    assert before.statement("EC-10").status == "pagado" and before.statement("EC-11") is None  # not yet issued
    assert before.payment("P1").unapplied == D("500.00")
    assert before.account(RENIEC, CALLAO).credit == D("500.00")
    assert before.account(RENIEC, CALLAO).balance == D("-500.00")
    after = balances(date(2026, 12, 21), [october, november], [payment])
    assert [(a.statement, a.amount) for a in after.payment("P1").applied] == [("EC-10", D("1000.00")),
                                                                              ("EC-11", D("500.00"))]
    assert (after.statement("EC-11").status, after.statement("EC-11").outstanding) == ("parcial", D("300.00"))
    assert after.account(RENIEC, CALLAO).credit == D("0.00")


def test_a_payment_naming_a_corrected_statement_applies_to_its_replacement():
    v1 = st("EC-10-v1", "26650.00", issued="2026-11-10", due="2026-12-10")
    v2 = st("EC-10-v2", "26900.00", issued="2026-11-20", due="2026-12-20", replaces="EC-10-v1")
    result = balances(date(2027, 1, 5), [v1, v2], [pay("P2", "10000.00", "2026-11-25", "EC-10-v1")])
    old, new = result.statement("EC-10-v1"), result.statement("EC-10-v2")
    assert (old.status, old.paid, old.outstanding) == ("reemplazado", D("0.00"), D("0.00"))
    assert (new.paid, new.outstanding, new.status) == (D("10000.00"), D("16900.00"), "vencido")
    assert result.account(RENIEC, CALLAO).charged == D("26900.00")  # the superseded version counts nowhere
    # Before the correction was issued, v1 was the live statement and the payment went to it.
    earlier = balances(date(2026, 11, 15), [v1, v2], [pay("P2", "10000.00", "2026-11-14", "EC-10-v1")])
    assert earlier.statement("EC-10-v1").paid == D("10000.00") and earlier.statement("EC-10-v2") is None


def test_two_payments_on_the_same_day_apply_in_the_order_of_their_ids():
    statements = [st("EC-09", "300.00", due="2026-11-20", period="2026-09"), st("EC-10", "500.00")]
    payments = [pay("P-B", "400.00", "2026-11-25"), pay("P-A", "200.00", "2026-11-25")]
    result = balances(date(2026, 11, 30), statements, payments)
    # P-A first: 200 to the oldest due (EC-09); then P-B: 100 to EC-09, 300 to EC-10.
    assert [(a.statement, a.amount) for a in result.payment("P-A").applied] == [("EC-09", D("200.00"))]
    assert [(a.statement, a.amount) for a in result.payment("P-B").applied] == [("EC-09", D("100.00")),
                                                                                ("EC-10", D("300.00"))]
    assert result.statement("EC-10").outstanding == D("200.00")


def test_a_payment_for_another_centre_of_the_same_entity_is_not_mixed():
    statements = [st("EC-CAL", "700.00"), st("EC-VEN", "400.00", centre=VENTANILLA)]
    result = balances(date(2026, 12, 1), statements, [pay("P1", "1000.00", "2026-11-25", centre=VENTANILLA)])
    assert result.statement("EC-CAL").outstanding == D("700.00")
    assert result.statement("EC-VEN").status == "pagado"
    assert result.account(RENIEC, VENTANILLA).credit == D("600.00")
    assert result.account(RENIEC, CALLAO).credit == D("0.00")
    assert [(a.centre, a.entity_ruc) for a in result.accounts] == [(CALLAO, RENIEC), (VENTANILLA, RENIEC)]


def test_named_statements_are_paid_first_in_the_order_given_then_the_oldest_due():
    statements = [st("EC-08", "100.00", due="2026-10-20", period="2026-08"),
                  st("EC-09", "100.00", due="2026-11-20", period="2026-09"), st("EC-10", "100.00")]
    result = balances(date(2026, 12, 1), statements, [pay("P1", "250.00", "2026-11-25", "EC-10", "EC-10")])
    # Named twice, applied once: nothing is applied twice.
    assert [(a.statement, a.amount) for a in result.payment("P1").applied] == [
        ("EC-10", D("100.00")), ("EC-08", D("100.00")), ("EC-09", D("50.00"))]


def test_what_comes_after_the_cut_off_is_not_listed():
    result = balances(date(2026, 11, 24), [st("EC-10", "100.00"), st("EC-11", "50.00", issued="2026-11-25")],
                      [pay("P1", "20.00", "2026-11-24"), pay("P2", "30.00", "2026-11-25")])
    assert [s.id for s in result.statements] == ["EC-10"] and [p.id for p in result.payments] == ["P1"]


@pytest.mark.parametrize(("days", "status", "bucket"), [
    (0, "pendiente", "al_dia"), (1, "vencido", "1-30"), (30, "vencido", "1-30"), (31, "vencido", "31-60"),
    (60, "vencido", "31-60"), (61, "vencido", "61-90"), (90, "vencido", "61-90"), (91, "vencido", "91+")])
def test_ageing_at_each_bucket_boundary(days, status, bucket):
    due = date(2026, 12, 20)
    result = balances(due + timedelta(days=days), [st("EC-10", "100.00")], [])
    s = result.statement("EC-10")
    assert (s.status, s.days_overdue, s.bucket) == (status, days, bucket)
    account = result.account(RENIEC, CALLAO)
    assert account.ageing[bucket] == D("100.00")
    assert account.overdue == (D("100.00") if days else D("0.00"))


def test_a_statement_of_zero_is_paid_and_counts_nowhere():
    result = balances(date(2027, 3, 1), [st("EC-10", "0.00")], [])
    assert result.statement("EC-10").status == "pagado" and result.account(RENIEC, CALLAO).outstanding == 0


CASE = {"as_of": "2027-01-05",
        "statements": [{"id": "EC-v1", "entity_ruc": RENIEC, "centre": CALLAO, "period": "2026-10",
                        "issued_on": "2026-11-10", "due_on": "2026-12-10", "amount": "26650.00"},
                       {"id": "EC-v2", "entity_ruc": RENIEC, "centre": CALLAO, "period": "2026-10",
                        "issued_on": "2026-11-20", "due_on": "2026-12-20", "amount": "26900.00", "replaces": "EC-v1"}],
        "payments": [{"id": "P2", "entity_ruc": RENIEC, "centre": CALLAO, "received_on": "2026-11-25",
                      "amount": "10000.00", "applies_to": ["EC-v1"], "reference": "RES-045-2026",
                      "siaf_expediente": "0000123"}]}


def variant(**changes) -> dict:
    import copy

    doc = copy.deepcopy(CASE)
    for path, value in changes.items():
        kind, index, key = path.split("__")
        doc[kind][int(index)][key] = value
    return doc


def test_the_calculator_document_round_trips_to_the_issue_format():
    out = compute(parse_case(CASE)).to_json()
    assert out["accounts"] == [{"entity_ruc": RENIEC, "centre": CALLAO, "charged": "26900.00", "paid": "10000.00",
                                "outstanding": "16900.00", "credit": "0.00", "overdue": "16900.00"}]
    assert out["statements"][0] == {"id": "EC-v1", "entity_ruc": RENIEC, "centre": CALLAO, "amount": "26650.00",
                                    "paid": "0.00", "outstanding": "0.00", "status": "reemplazado",
                                    "days_overdue": 0, "bucket": "al_dia"}
    assert out["statements"][1]["days_overdue"] == 16 and out["statements"][1]["bucket"] == "1-30"
    assert out["payments"] == [{"id": "P2", "applied": [{"statement": "EC-v2", "amount": "10000.00"}],
                                "unapplied": "0.00"}]


@pytest.mark.parametrize(("doc", "message"), [
    (variant(statements__0__amount="20.000,00"), "«20.000,00» no es válido"),
    (variant(payments__0__amount="26650.265"), "«26650.265» no es válido"),
    (variant(payments__0__amount="-10.00"), "«-10.00» no es válido"),
    (variant(payments__0__amount=10000), "«10000» no es válido"),
    (variant(payments__0__amount="0.00"), "mayor que cero"),
    (variant(statements__1__id="EC-v1", statements__1__replaces=None), "«EC-v1» está repetido"),
    ({**CASE, "payments": CASE["payments"] * 2}, "«P2» está repetido"),
    (variant(statements__1__replaces="EC-v0"), "reemplaza a «EC-v0», que no está en la entrada"),
    (variant(payments__0__applies_to=["EC-v9"]), "«EC-v9», que no está en la entrada"),
    (variant(payments__0__centre=VENTANILLA), "es de otra cuenta"),
    (variant(statements__1__entity_ruc=SUNAT), "es de otra cuenta"),
    (variant(statements__0__replaces="EC-v2"), "ciclo"),
    (variant(statements__0__issued_on="2026-13-01"), "fecha «2026-13-01» no es válida"),
])
def test_each_refusal_says_what_is_wrong(doc, message):
    with pytest.raises(BalanceInputError) as err:
        parse_case(doc)
    assert message in err.value.message


def test_the_statement_account_adds_up_previous_balance_payments_and_charges():
    october = st("EC-10", "1000.00", issued="2026-11-20", due="2026-12-20")
    november = st("EC-11", "800.00", issued="2026-12-20", due="2027-01-19", period="2026-11")
    payments = [pay("P1", "600.00", "2026-11-30"), pay("P2", "100.00", "2026-12-20")]
    account = statement_account("EC-11", [october, november], payments)
    assert account.previous_balance == D("1000.00")  # at the issue of October's statement
    assert account.payments_since_last == D("700.00")
    assert account.charges == D("800.00") and account.other_charges == D("0.00")
    assert account.balance_due == D("1100.00") == account.previous_balance - account.payments_since_last + \
        account.charges + account.other_charges
    assert account.due_on == date(2027, 1, 19)
