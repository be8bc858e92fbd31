"""The integer engine against the definition: every line equals a largest-remainder split of the exact rational
share written out with ``Fraction`` (domain §5), and the quick RUC check accepts exactly what python-stdnum
accepts."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.pe import ruc as pe_ruc

from app.costsharing.allocation import (
    CAPACITY_KEYS,
    AllocationInputError,
    Case,
    FixedRule,
    allocate,
    split_cents,
    validate_ruc,
)
from tests.unit.test_allocation_properties import cases


def exact_shares(case: Case, category: str) -> dict[str, Fraction] | None:
    """Each entity's share of an item of ``category``, straight from the rules (None: a key sums zero)."""
    rule = case.methodology.rules[category]
    if isinstance(rule, FixedRule):
        return {ruc: Fraction(p) / 100 for ruc, p in rule.percentages.items() if p}
    period = case.period
    admin = case.vacancy.administering_ruc if case.vacancy.policy == "administering" else None
    shares: dict[str, Fraction] = {}
    for key, weight in rule.weights.items():
        quantity: dict[str, Fraction] = {}
        for p in case.participants:
            days = Fraction(p.vigente_days(period), period.days)
            if key == "equal":
                quantity[p.ruc] = days
            elif key == "attentions":
                quantity[p.ruc] = Fraction(p.drivers.get(key, Decimal(0)))
            else:
                quantity[p.ruc] = Fraction(p.drivers.get(key, Decimal(0))) * days
        if admin and key in CAPACITY_KEYS and key != "equal":
            quantity[admin] = quantity.get(admin, Fraction(0)) + Fraction(case.vacancy.drivers.get(key, Decimal(0)))
        total = sum(quantity.values(), Fraction(0))
        if total == 0:
            return None
        for ruc, q in quantity.items():
            shares[ruc] = shares.get(ruc, Fraction(0)) + weight * q / total
    return {ruc: s for ruc, s in shares.items() if s}


def reference_split(cents: int, shares: dict[str, Fraction]) -> dict[str, int]:
    exact = {ruc: cents * s for ruc, s in shares.items()}
    out = {ruc: x.numerator // x.denominator for ruc, x in exact.items()}
    left = cents - sum(out.values())
    for ruc in sorted(exact, key=lambda r: (-(exact[r] - out[r]), r))[:left]:
        out[ruc] += 1
    return out


@settings(max_examples=200, deadline=None)
@given(cases())
def test_every_line_is_the_largest_remainder_split_of_the_exact_rational_share(case):
    result = allocate(case)
    got: dict[str, dict[str, int]] = {}
    for line in result.lines:
        got.setdefault(line.cost_id, {})[line.ruc] = line.cents
    for item in case.costs:
        shares = exact_shares(case, item.category)
        if shares is None:
            assert item.id not in got
            continue
        assert got.get(item.id, {}) == reference_split(int(item.amount * 100), shares)
        rs = result.shares[item.category]
        assert {ruc: Fraction(n, rs.denominator) for ruc, n in rs.numerators.items()} == shares


def test_the_lines_of_an_item_come_in_ruc_order_whatever_the_order_of_the_entities():
    split = split_cents(2, {"20600000002": 1, "20100000001": 1, "20300000003": 1}, 3)
    assert list(split) == ["20600000002", "20100000001", "20300000003"]  # the caller's order is kept
    assert {ruc: c for ruc, (c, _x, _e) in split.items()} == {"20100000001": 1, "20300000003": 1,
                                                              "20600000002": 0}


@settings(max_examples=500, deadline=None)
@given(st.one_of(
    st.text(alphabet="0123456789", min_size=11, max_size=11),
    st.integers(0, 99).flatmap(lambda prefix: st.text(alphabet="0123456789", min_size=9, max_size=9)
                               .map(lambda body: f"{prefix:02d}{body[:8]}" + pe_ruc.calc_check_digit(
                                   f"{prefix:02d}{body[:8]}"))),
    st.text(alphabet="0123456789 ٣-", min_size=9, max_size=13),
))
def test_the_quick_ruc_check_accepts_exactly_what_stdnum_accepts(ruc):
    if pe_ruc.is_valid(ruc):
        validate_ruc(ruc, "ruc")
    else:
        with pytest.raises(AllocationInputError, match="no es un RUC válido"):
            validate_ruc(ruc, "ruc")
