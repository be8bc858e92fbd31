"""Benchmark of the pure allocation engine: 1,000 entities × 50 items, then 10,000 × 50.

Prints each run's time (best of three) and the ratio between them. With 10× the entities the work should grow
about 10× (linear; the sort of remainders per item adds a log factor).

    .venv/bin/python bench/bench_allocation.py
"""

from __future__ import annotations

import random
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stdnum.pe import ruc as pe_ruc  # noqa: E402

from app.costsharing.allocation import (  # noqa: E402
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

CATEGORIES = ("alquiler", "mantenimiento", "limpieza", "vigilancia", "energia", "agua", "telecomunicaciones",
              "sistema_colas", "orientacion", "otros")


def build_case(entities: int, items: int, seed: int = 7) -> Case:
    rnd = random.Random(seed)
    start, end = date(2026, 11, 1), date(2026, 11, 30)
    people = []
    for n in range(entities):
        body = f"20{n:08d}"
        joined = start + timedelta(days=rnd.choice([0, 0, 0, 9, 15]))
        people.append(Participant(
            ruc=body + pe_ruc.calc_check_digit(body), name=f"Entidad {n}", active_from=joined, active_to=None,
            drivers={"area_m2": Decimal(rnd.randint(500, 20000)).scaleb(-2), "modules": Decimal(rnd.randint(1, 6)),
                     "advisors": Decimal(rnd.randint(1, 12)), "attentions": Decimal(rnd.randint(0, 20000))}))
    rules = {
        "alquiler": MixRule({"area_m2": Fraction(1)}),
        "mantenimiento": MixRule({"area_m2": Fraction(1, 2), "modules": Fraction(1, 2)}),
        "limpieza": MixRule({"area_m2": Fraction(1, 2), "attentions": Fraction(1, 2)}),
        "vigilancia": MixRule({"equal": Fraction(3, 10), "area_m2": Fraction(7, 10)}),
        "energia": MixRule({"modules": Fraction(6, 10), "advisors": Fraction(4, 10)}),
        "agua": MixRule({"advisors": Fraction(1)}),
        "telecomunicaciones": MixRule({"modules": Fraction(1)}),
        "sistema_colas": FixedRule({p.ruc: Fraction(100, entities) for p in people}),
        "orientacion": MixRule({"attentions": Fraction(1)}),
        "otros": MixRule({"equal": Fraction(1)}),
    }
    costs = tuple(CostItem(f"C{i:03d}", CATEGORIES[i % len(CATEGORIES)],
                           Decimal(rnd.randint(100_00, 90_000_00)).scaleb(-2)) for i in range(items))
    vacancy = Vacancy("administering", "20505703554", {"area_m2": Decimal("120.5"), "modules": Decimal(3)})
    return Case(Period(start, end), tuple(people), vacancy, Methodology("bench", rules), costs)


def best_of(case: Case, runs: int = 3) -> tuple[float, int]:
    best = float("inf")
    lines = 0
    for _ in range(runs):
        t0 = time.perf_counter()
        result = allocate(case)
        best = min(best, time.perf_counter() - t0)
        lines = len(result.lines)
        total = sum(ln.cents for ln in result.lines) + sum(int(u.amount * 100) for u in result.unallocated)
        assert total == sum(int(c.amount * 100) for c in case.costs), "the split lost céntimos"
    return best, lines


def main() -> None:
    small, large = build_case(1_000, 50), build_case(10_000, 50)
    t_small, n_small = best_of(small)
    t_large, n_large = best_of(large)
    print(f"1,000 entidades × 50 ítems:  {t_small:8.3f} s  ({n_small:,} líneas)")
    print(f"10,000 entidades × 50 ítems: {t_large:8.3f} s  ({n_large:,} líneas)")
    print(f"razón 10,000/1,000: {t_large / t_small:.2f} (lineal = 10)")


if __name__ == "__main__":
    main()
