"""Invariants of the balance rules for any statements and payments (hypothesis): every figure adds up to the
céntimo, nothing is applied twice, and the order in which payments are given does not matter."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from app.billing_reports.balances import REEMPLAZADO, Case, PaymentIn, StatementIn, check_case, compute

START = date(2026, 1, 1)
ACCOUNTS = [("20295613620", "MAC-CALLAO"), ("20295613620", "MAC-VENTANILLA"), ("20131312955", "MAC-CALLAO")]
cents = st.integers(min_value=0, max_value=5_000_000)


@st.composite
def cases(draw) -> Case:
    statements: list[StatementIn] = []
    for i in range(draw(st.integers(0, 8))):
        account = draw(st.sampled_from(ACCOUNTS))
        issued = START + timedelta(days=draw(st.integers(0, 200)))
        # A correction replaces an earlier, not yet replaced statement of the same account.
        candidates = [s.id for s in statements if s.account == account
                      and s.id not in {t.replaces for t in statements}]
        replaces = draw(st.sampled_from([None, *candidates])) if candidates else None
        statements.append(StatementIn(f"EC-{i:02d}", account[0], account[1], f"2026-{(i % 12) + 1:02d}", issued,
                                      issued + timedelta(days=draw(st.integers(1, 60))),
                                      Decimal(draw(cents)) / 100, replaces))
    payments = []
    for i in range(draw(st.integers(0, 8))):
        account = draw(st.sampled_from(ACCOUNTS))
        mine = [s.id for s in statements if s.account == account]
        named = tuple(draw(st.lists(st.sampled_from(mine), max_size=3))) if mine else ()
        payments.append(PaymentIn(f"P-{i:02d}", account[0], account[1],
                                  START + timedelta(days=draw(st.integers(0, 200))),
                                  Decimal(draw(st.integers(1, 5_000_000))) / 100, named))
    case = Case(START + timedelta(days=draw(st.integers(0, 260))), tuple(statements), tuple(payments))
    check_case(case)
    return case


@settings(max_examples=300, deadline=None)
@given(cases())
def test_every_figure_adds_up(case):
    result = compute(case)
    for p in result.payments:
        assert sum((a.amount for a in p.applied), Decimal(0)) + p.unapplied == p.payment.amount
        assert p.unapplied >= 0 and all(a.amount > 0 for a in p.applied)
        assert len({a.statement for a in p.applied}) == len(p.applied)  # one entry per statement
    applied_to: dict[str, Decimal] = defaultdict(Decimal)
    for p in result.payments:
        for a in p.applied:
            applied_to[a.statement] += a.amount
    for s in result.statements:
        if s.status == REEMPLAZADO:
            assert (s.paid, s.outstanding) == (0, 0) and s.id not in applied_to
            continue
        assert s.paid == applied_to.get(s.id, Decimal(0))  # nothing applied twice, nothing lost
        assert s.paid + s.outstanding == s.statement.amount and 0 <= s.paid <= s.statement.amount
    for a in result.accounts:
        assert a.charged - a.paid == a.outstanding >= 0
        assert a.credit == sum((p.unapplied for p in result.payments if p.payment.account ==
                                (a.entity_ruc, a.centre)), Decimal(0))
        assert a.credit == 0 or a.outstanding == 0  # credit is left only when nothing is owed
        assert sum(a.ageing.values(), Decimal(0)) == a.outstanding
        assert 0 <= a.overdue <= a.outstanding


@settings(max_examples=200, deadline=None)
@given(cases(), st.randoms())
def test_the_order_of_the_input_does_not_change_the_result(case, rnd):
    payments, statements = list(case.payments), list(case.statements)
    rnd.shuffle(payments)
    rnd.shuffle(statements)
    assert compute(Case(case.as_of, tuple(statements), tuple(payments))).to_json() == compute(case).to_json()
