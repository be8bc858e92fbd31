"""Versioned distribution methodologies: drafted and approved by the SGP, effective from a period, compared
version against version. An approved version is immutable (a database trigger refuses changes); a period is
computed with the approved version with the latest ``effective_from`` not after the period's first day.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.costsharing.allocation import (
    FIXED,
    KEY_LABELS,
    VACANCY_LABELS,
    VACANCY_POLICIES,
    AllocationInputError,
    canonical_hash,
    parse_rule,
    validate_rule,
)
from app.costsharing.models import CATEGORIES, CATEGORY_LABELS, Methodology
from app.db import ROLE_ADMIN, ROLE_SISTEMA, ROLE_SUPERVISOR_SGP, TenantContext, get_database
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed

SGP_ROLES = (ROLE_SUPERVISOR_SGP, ROLE_ADMIN, ROLE_SISTEMA)


# ------------------------------------------------------------------------------------------- pure part ---


def normalise_rules(raw: dict[str, Any]) -> dict[str, Any]:
    """Validate a category → rule mapping (every category must have a rule) and return it canonically."""
    if not isinstance(raw, dict):
        raise ValidationFailed("Las reglas deben ser un objeto categoría → regla.", field="rules")
    unknown = [c for c in raw if c not in CATEGORIES]
    if unknown:
        raise ValidationFailed(f"Categoría(s) desconocida(s): {', '.join(unknown)}. Las categorías son "
                               f"{', '.join(CATEGORIES)}.", field="rules")
    missing = [c for c in CATEGORIES if c not in raw]
    if missing:
        raise ValidationFailed(f"Falta la regla de la(s) categoría(s) {', '.join(missing)}: toda categoría necesita"
                               " una clave.", field="rules")
    out: dict[str, Any] = {}
    for category in CATEGORIES:
        rule = parse_rule(category, raw[category])
        validate_rule(category, rule)
        if rule.kind == FIXED:
            out[category] = {FIXED: {ruc: _plain(p) for ruc, p in sorted(rule.percentages.items())}}
        else:
            out[category] = {k: _plain(w) for k, w in sorted(rule.weights.items())}
    return out


def _plain(value) -> str:  # noqa: ANN001
    from app.costsharing.allocation import fraction_str

    return fraction_str(value, 6, min_places=0)


def describe_rule(rule: dict[str, Any]) -> str:
    """«área (m²) 50 % + atenciones 50 %» — how a person reads a rule."""
    if FIXED in rule:
        return "porcentaje fijo: " + ", ".join(f"{ruc} {pct} %" for ruc, pct in rule[FIXED].items())
    from decimal import Decimal

    return " + ".join(f"{KEY_LABELS[k]} {(Decimal(w) * 100).normalize():f} %" for k, w in rule.items())


@dataclass(frozen=True)
class RuleDifference:
    category: str
    label: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class Comparison:
    a: Methodology
    b: Methodology
    differences: list[RuleDifference]
    vacancy_changed: bool
    unchanged: list[str]


def compare_rules(a: Methodology, b: Methodology) -> Comparison:
    diffs, same = [], []
    for category in CATEGORIES:
        ra, rb = a.rules.get(category), b.rules.get(category)
        if ra == rb:
            same.append(CATEGORY_LABELS[category])
        else:
            diffs.append(RuleDifference(category, CATEGORY_LABELS[category], describe_rule(ra) if ra else None,
                                        describe_rule(rb) if rb else None))
    return Comparison(a, b, diffs, a.vacancy_policy != b.vacancy_policy, same)


def methodology_document(m: Methodology) -> dict[str, Any]:
    """What an approval fixes (and its hash covers)."""
    return {"version": m.version, "title": m.title, "criteria": m.criteria, "rules": m.rules,
            "vacancy_policy": m.vacancy_policy, "rounding": m.rounding,
            "effective_from": m.effective_from.isoformat() if m.effective_from else None}


# ----------------------------------------------------------------------------------------------- services ---


def _require_sgp(ctx: TenantContext) -> None:
    if ctx.role not in SGP_ROLES:
        raise Forbidden("Solo la SGP define y aprueba metodologías de distribución.")


async def list_methodologies(ctx: TenantContext) -> list[Methodology]:
    async with get_database().transaction(ctx) as s:
        return list((await s.scalars(select(Methodology).order_by(Methodology.effective_from.desc().nulls_first(),
                                                                   Methodology.created_at.desc()))).all())


async def get_methodology(ctx: TenantContext, methodology_id: uuid.UUID) -> Methodology:
    async with get_database().transaction(ctx) as s:
        m = await s.get(Methodology, methodology_id)
    if m is None:
        raise NotFound("La metodología no existe.")
    return m


async def create_methodology(ctx: TenantContext, *, version: str, title: str, criteria: str, rules: dict,
                             vacancy_policy: str) -> Methodology:
    _require_sgp(ctx)
    version, title = version.strip(), title.strip()
    if not version or not title:
        raise ValidationFailed("Indique la versión y el título de la metodología.", field="version")
    if vacancy_policy not in VACANCY_POLICIES:
        raise ValidationFailed("Elija la política de vacancia: la asume la administradora o se redistribuye.",
                               field="vacancy_policy")
    try:
        rules = normalise_rules(rules)
    except AllocationInputError as exc:
        raise ValidationFailed(exc.message, field="rules") from None
    async with get_database().transaction(ctx) as s:
        if await s.scalar(select(Methodology.id).where(Methodology.version == version)):
            raise Conflict(f"Ya existe la versión «{version}».", field="version")
        m = Methodology(version=version, title=title, criteria=criteria.strip(), rules=rules,
                        vacancy_policy=vacancy_policy, state="borrador", author_id=ctx.user_id)
        s.add(m)
        await s.flush()
        await audit.record(s, ctx, action="metodologia_creada", record_type="metodologia", record_id=m.id,
                           after=methodology_document(m))
    return m


async def approve_methodology(ctx: TenantContext, methodology_id: uuid.UUID, effective_from: date) -> Methodology:
    _require_sgp(ctx)
    if effective_from.day != 1:
        raise ValidationFailed("La vigencia empieza el primer día de un periodo (mes).", field="effective_from")
    async with get_database().transaction(ctx) as s:
        m = await s.get(Methodology, methodology_id, with_for_update=True)
        if m is None:
            raise NotFound("La metodología no existe.")
        if m.state == "aprobada":
            raise Conflict(f"La versión {m.version} ya fue aprobada; para cambiarla cree una nueva versión.")
        clash = await s.scalar(select(Methodology.version).where(Methodology.state == "aprobada",
                                                                 Methodology.effective_from == effective_from))
        if clash:
            raise Conflict(f"La versión {clash} ya rige desde {effective_from:%d/%m/%Y}; elija otro periodo.")
        m.state, m.effective_from = "aprobada", effective_from
        m.approved_by_id, m.approved_at = ctx.user_id, datetime.now(timezone.utc)
        m.document_hash = canonical_hash(methodology_document(m))
        await audit.record(s, ctx, action="metodologia_aprobada", record_type="metodologia", record_id=m.id,
                           after={**methodology_document(m), "hash": m.document_hash})
    return m


async def effective_methodology(s: AsyncSession, on: date) -> Methodology | None:
    """The approved version in force on ``on`` (the latest ``effective_from`` not after it)."""
    return await s.scalar(select(Methodology).where(Methodology.state == "aprobada",
                                                    Methodology.effective_from <= on)
                          .order_by(Methodology.effective_from.desc()).limit(1))


async def compare_methodologies(ctx: TenantContext, a_id: uuid.UUID, b_id: uuid.UUID) -> Comparison:
    async with get_database().transaction(ctx) as s:
        a, b = await s.get(Methodology, a_id), await s.get(Methodology, b_id)
    if a is None or b is None:
        raise NotFound("Una de las metodologías no existe.")
    return compare_rules(a, b)


__all__ = ["VACANCY_LABELS", "approve_methodology", "compare_methodologies", "compare_rules", "create_methodology",
           "describe_rule", "effective_methodology", "get_methodology", "list_methodologies", "normalise_rules"]
