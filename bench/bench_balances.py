"""Benchmark of the pure balance rules: the national receivables of a year (18 centres × 60 entities × 12 monthly
statements, one payment per statement) and the same with 10× the entities.

Prints each run's time (best of three) and the ratio between them. With 10× the accounts the work should grow
about 10× (linear: payments are applied account by account, and the accounts are grouped in one pass).

    .venv/bin/python bench/bench_balances.py
"""

from __future__ import annotations

import random
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.billing_reports.balances import PaymentIn, StatementIn, balances  # noqa: E402


def build(centres: int, entities: int, seed: int = 11) -> tuple[list[StatementIn], list[PaymentIn]]:
    rnd = random.Random(seed)
    statements, payments = [], []
    for c in range(centres):
        for e in range(entities):
            ruc = f"20{e:09d}"
            for month in range(1, 13):
                issued = date(2026, month, 20)
                sid = f"EC-2026-{month:02d}-C{c:02d}-{ruc}-v1"
                amount = Decimal(rnd.randint(50_000, 3_000_000)).scaleb(-2)
                statements.append(StatementIn(sid, ruc, f"C{c:02d}", f"2026-{month:02d}", issued,
                                              issued + timedelta(days=30), amount))
                if rnd.random() < 0.8:
                    paid = (amount * Decimal(rnd.choice(("1", "1", "0.5", "1.1")))).quantize(Decimal("0.01"))
                    payments.append(PaymentIn(f"P-{c:02d}-{e:05d}-{month:02d}", ruc, f"C{c:02d}",
                                              issued + timedelta(days=rnd.randint(5, 60)), paid,
                                              (sid,) if rnd.random() < 0.5 else ()))
    return statements, payments


def best_of(n: int, statements, payments) -> float:  # noqa: ANN001
    times = []
    for _ in range(n):
        started = time.perf_counter()
        balances(date(2027, 3, 31), statements, payments)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    small = build(18, 6)
    floor = best_of(3, *small)
    print(f"piso: 18 centros × 6 entidades ({len(small[0])} estados de cuenta, {len(small[1])} pagos): {floor:.3f} s")
    for entities in (60, 600):
        statements, payments = build(18, entities)
        seconds = best_of(3, statements, payments)
        print(f"18 centros × {entities} entidades ({len(statements)} estados de cuenta, {len(payments)} pagos): "
              f"{seconds:.3f} s · {seconds / floor:.1f}× el piso (entradas {len(statements) / len(small[0]):.0f}×)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
