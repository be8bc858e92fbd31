"""Benchmark of the pure allocation engine: 1,000 entities × 50 items, then 10,000 × 50, against a floor.

* Figure: :func:`app.costsharing.allocation.allocate` on the whole case (validation, each category's shares,
  the largest-remainder split of every item, one ``Line`` per entity and item).
* Floor, measured in the same run on the same data: a minimal largest-remainder split in plain Python. It is
  handed each category's integer shares (numerators over a common denominator, computed before the clock
  starts) and, per item, floors every share to céntimos, sorts the remainders and hands out the céntimos
  left, producing (RUC, céntimos) pairs. No validation, no derivation, no line objects: no engine can split
  the same data faster in plain Python. Both sides run with the cyclic garbage collector paused (the engine
  pauses it itself while splitting).

Each side is timed best of ``--runs`` (3), alternating, in CPU time of the process (single-threaded pure Python:
on a shared machine CPU time is what the code costs, wall time also counts the other processes' turns); the
whole measurement is repeated ``--repeat`` times (3) and the best and the range are printed. Goal: 10,000 × 50
under 1 s, within 2× of the floor, and growth 10,000/1,000 ≤ 11 (linear = 10). A measurement, not a test: it
exits 0 whatever the figures.

    .venv/bin/python bench/bench_allocation.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
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
    rule_shares,
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


def floor_inputs(case: Case) -> list[tuple[int, list[str], list[int], int]]:
    """Per item: its céntimos and its category's shares as integers (RUCs ascending), prepared untimed."""
    shares = {category: rule_shares(case, category, rule) for category, rule in case.methodology.rules.items()}
    out = []
    for item in case.costs:
        rs = shares[item.category]
        rucs = sorted(rs.numerators)
        out.append((int(item.amount * 100), rucs, [rs.numerators[r] for r in rucs], rs.denominator))
    return out


def floor_split(items: list[tuple[int, list[str], list[int], int]]) -> list[tuple[str, int]]:
    """The least work a largest-remainder split of these items can do in plain Python."""
    out: list[tuple[str, int]] = []
    for cents, rucs, numerators, den in items:
        exact = [cents * n for n in numerators]
        floors = [x // den for x in exact]
        left = cents - sum(floors)
        if left:
            remainders = [x - f * den for x, f in zip(exact, floors)]
            for i in sorted(range(len(remainders)), key=remainders.__getitem__, reverse=True)[:left]:
                floors[i] += 1
        out.extend(zip(rucs, floors))
    return out


def timed(fn, arg) -> tuple[float, int]:  # noqa: ANN001
    gc.collect()
    gc.disable()
    try:
        started = time.process_time()
        result = fn(arg)
        elapsed = time.process_time() - started
    finally:
        gc.enable()
    return elapsed, result


def measure(case: Case, runs: int) -> tuple[float, float, int]:
    """Best engine time, best floor time (alternating runs) and the number of lines."""
    items = floor_inputs(case)
    cents = sum(c for c, *_ in items)
    engine = floor = float("inf")
    lines = 0
    for _ in range(runs):
        t, result = timed(allocate, case)
        engine = min(engine, t)
        lines = len(result.lines)
        assert sum(ln.cents for ln in result.lines) == cents, "the split lost céntimos"
        del result
        t, pairs = timed(floor_split, items)
        floor = min(floor, t)
        assert sum(c for _r, c in pairs) == cents, "the floor lost céntimos"
        del pairs
    return engine, floor, lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="whole measurements (best and range printed)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per side within a measurement")
    args = parser.parse_args()
    small, large = build_case(1_000, 50), build_case(10_000, 50)
    rounds = []
    for _ in range(args.repeat):
        rounds.append((*measure(small, args.runs), *measure(large, args.runs)))
    best = min(rounds, key=lambda r: r[3])  # the round with the fastest 10,000 × 50 engine time
    e_small, f_small, n_small, e_large, f_large, n_large = best

    def spread(i: int) -> str:
        values = [r[i] for r in rounds]
        return f"{min(values):.3f}–{max(values):.3f} s"

    print(f"Entrada: 1,000 y 10,000 entidades × 50 ítems ({n_small:,} y {n_large:,} líneas); "
          f"{args.repeat} mediciones, mejor de {args.runs} por lado, tiempo de CPU")
    print(f"  1,000 × 50:  motor {e_small:6.3f} s  piso {f_small:6.3f} s  razón {e_small / f_small:4.2f}× del piso"
          f"  (rango motor {spread(0)})")
    print(f"  10,000 × 50: motor {e_large:6.3f} s  piso {f_large:6.3f} s  razón {e_large / f_large:4.2f}× del piso"
          f"  (rango motor {spread(3)})  meta < 1 s y ≤ 2×")
    print(f"  crecimiento 10,000/1,000: motor {e_large / e_small:5.2f}  piso {f_large / f_small:5.2f}"
          "  (lineal = 10; meta ≤ 11)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
