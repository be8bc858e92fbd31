"""From cost sharing's allocation to statement lines. PURE: no database, no web.

The engine (:mod:`app.costsharing.allocation`) explains each entity's share of an item as a list of
:class:`~app.costsharing.allocation.Component` (key, weight, recorded value, vigente days, quantity, total).
Here those become what a statement prints: the key as people read it, the entity's quantity and the total
(when the rule has a single key), the percentage, and one derivation step per key for the appendix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from app.billing_reports.statement import (
    KIND_REPARTO,
    DerivationStep,
    StatementLine,
    to_percentage,
    to_quantity,
)
from app.costsharing.allocation import FIXED, KEY_LABELS, AllocationResult, Component, fraction_str


def _frac(value: Fraction) -> str:
    return fraction_str(value, 6)


def steps(components: list[Component]) -> tuple[DerivationStep, ...]:
    out = []
    for c in components:
        days = f"{c.days} de {c.period_days}" if c.days is not None and c.key != FIXED else "—"
        quantity = c.quantity + c.vacancy_quantity
        own = _frac(quantity)
        if c.vacancy_quantity:
            own = f"{_frac(c.quantity)} + vacante {_frac(c.vacancy_quantity)}"
        out.append(DerivationStep(
            key=KEY_LABELS.get(c.key, c.key),
            weight=str(c.weight),
            driver="—" if c.driver is None else format(c.driver, "f"),
            days=days,
            quantity=own,
            total=_frac(c.total),
            fraction=_frac(c.fraction),
        ))
    return tuple(out)


def key_label(components: list[Component]) -> str:
    """«área (m²)», «porcentaje fijo» or «mixta: área (m²) 1/2 + atenciones 1/2»."""
    if len(components) == 1:
        return KEY_LABELS.get(components[0].key, components[0].key)
    return "mixta: " + " + ".join(f"{KEY_LABELS.get(c.key, c.key)} {c.weight}" for c in components)


def quantity_and_total(components: list[Component]) -> tuple[Decimal | None, Decimal | None]:
    """The entity's quantity and the total, when one key decides the share; a mix has no single quantity (its
    keys are in the appendix)."""
    if len(components) != 1:
        return None, None
    c = components[0]
    return to_quantity(c.quantity + c.vacancy_quantity), to_quantity(c.total)


@dataclass(frozen=True)
class ItemInfo:
    description: str
    document_ref: str = ""


def lines_from_result(result: AllocationResult, ruc: str, items: Mapping[str, ItemInfo],
                      category_labels: Mapping[str, str]) -> list[StatementLine]:
    """The ``reparto`` lines of one entity, in the order of the cost items, straight from the engine."""
    amounts = {item.id: item.amount for item in result.case.costs}
    out = []
    for line in result.lines:
        if line.ruc != ruc:
            continue
        components = result.derivation(line.category, ruc)
        quantity, total = quantity_and_total(components)
        info = items.get(line.cost_id, ItemInfo(line.cost_id))
        out.append(StatementLine(
            kind=KIND_REPARTO, category=line.category,
            category_label=category_labels.get(line.category, line.category),
            item=info.description, key=key_label(components), quantity=quantity, total_quantity=total,
            percentage=to_percentage(line.share), item_amount=amounts[line.cost_id], amount=line.amount,
            exact=fraction_str(line.exact, 10), rounding=Decimal(line.rounding.numerator) / line.rounding.denominator,
            extra_cent=line.extra_cent, steps=steps(components), document_ref=info.document_ref,
        ))
    return out
