"""Properties of the allocation engine for any case (hypothesis): shares add up to each item, are never
negative, do not depend on the order of the entities, and scale linearly with the amount up to rounding."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.pe import ruc as pe_ruc

from app.costsharing.allocation import (
    Case,
    CostItem,
    FixedRule,
    Methodology,
    MixRule,
    Participant,
    Period,
    Vacancy,
    allocate,
)

START = date(2026, 11, 1)
END = date(2026, 11, 30)


def make_ruc(n: int) -> str:
    body = "20" + f"{n:08d}"
    return body + pe_ruc.calc_check_digit(body)


decimals = st.decimals(min_value=0, max_value=5000, places=2, allow_nan=False, allow_infinity=False)
amounts = st.integers(min_value=0, max_value=10**9).map(lambda c: Decimal(c).scaleb(-2))


@st.composite
def participants(draw):
    n = draw(st.integers(min_value=1, max_value=12))
    numbers = draw(st.lists(st.integers(min_value=1, max_value=99_999_999), min_size=n, max_size=n, unique=True))
    out = []
    for number in numbers:
        first = draw(st.integers(min_value=-40, max_value=29))
        last = draw(st.one_of(st.none(), st.integers(min_value=max(first, 0), max_value=60)))
        out.append(Participant(
            ruc=make_ruc(number), name=str(number), active_from=START + timedelta(days=first),
            active_to=START + timedelta(days=last) if last is not None else None,
            drivers={"area_m2": draw(decimals), "modules": Decimal(draw(st.integers(0, 20))),
                     "advisors": Decimal(draw(st.integers(0, 30))),
                     "attentions": Decimal(draw(st.integers(0, 50_000)))}))
    return tuple(out)


@st.composite
def weights(draw):
    keys = draw(st.lists(st.sampled_from(["area_m2", "modules", "advisors", "attentions", "equal"]),
                         min_size=1, max_size=5, unique=True))
    cuts = sorted(draw(st.lists(st.integers(1, 99), min_size=len(keys) - 1, max_size=len(keys) - 1, unique=True)))
    bounds = [0, *cuts, 100]
    return MixRule({k: Fraction(bounds[i + 1] - bounds[i], 100) for i, k in enumerate(keys)})


@st.composite
def cases(draw):
    people = draw(participants())
    rules = {"alquiler": draw(weights()), "limpieza": draw(weights()), "otros": MixRule({"equal": Fraction(1)})}
    if len(people) >= 2:
        rules["sistema_colas"] = FixedRule({people[0].ruc: Fraction(333, 10), people[1].ruc: Fraction(667, 10)})
    policy = draw(st.sampled_from(["administering", "redistribute"]))
    vacancy = Vacancy(policy, make_ruc(0), {"area_m2": draw(decimals), "modules": Decimal(draw(st.integers(0, 5)))})
    costs = tuple(CostItem(f"c{i}", draw(st.sampled_from(sorted(rules))), draw(amounts))
                  for i in range(draw(st.integers(1, 6))))
    return Case(Period(START, END), people, vacancy, Methodology("v", rules), costs)


@settings(max_examples=200, deadline=None)
@given(cases())
def test_the_lines_of_every_item_add_up_to_the_item_exactly_and_are_never_negative(case):
    result = allocate(case)
    unallocated = {u.cost_id for u in result.unallocated}
    for item in case.costs:
        lines = [ln for ln in result.lines if ln.cost_id == item.id]
        if item.id in unallocated:
            assert lines == []
            continue
        assert sum((ln.amount for ln in lines), Decimal(0)) == item.amount
        assert all(ln.cents >= 0 for ln in lines)
        assert sum((ln.share for ln in lines), Fraction(0)) == 1
        # Largest remainder never moves an amount more than one céntimo away from its exact value.
        assert all(abs(ln.rounding) < Fraction(1, 100) for ln in lines)
    assert sum((u.amount for u in result.unallocated), Decimal(0)) + sum(
        (ln.amount for ln in result.lines), Decimal(0)) == sum((c.amount for c in case.costs), Decimal(0))


@settings(max_examples=150, deadline=None)
@given(cases(), st.randoms())
def test_the_result_does_not_depend_on_the_order_of_the_entities(case, rnd: random.Random):
    shuffled = list(case.participants)
    rnd.shuffle(shuffled)
    other = Case(case.period, tuple(shuffled), case.vacancy, case.methodology, case.costs)
    assert allocate(case).to_json() == allocate(other).to_json()


@settings(max_examples=150, deadline=None)
@given(cases(), st.integers(min_value=2, max_value=1000))
def test_multiplying_the_amount_multiplies_every_share_up_to_one_centimo(case, k):
    scaled = Case(case.period, case.participants, case.vacancy, case.methodology,
                  tuple(CostItem(c.id, c.category, c.amount * k) for c in case.costs))
    before = {(ln.cost_id, ln.ruc): ln for ln in allocate(case).lines}
    after = {(ln.cost_id, ln.ruc): ln for ln in allocate(scaled).lines}
    assert before.keys() == after.keys()
    for key, line in after.items():
        assert line.exact == before[key].exact * k  # exact amounts are exactly linear
        assert abs(Fraction(line.amount) - Fraction(before[key].amount) * k) < Fraction(1, 100) + k * Fraction(1, 100)
