"""The allocation engine: each entity's share of a centre's common costs, exact to the céntimo.

PURE: no I/O, no database, no web. The web app, the worker, the CLI (`mac costs allocate`) and the benchmark
all call :func:`parse_case` / :func:`allocate` from here.

The rules (issue #6, domain §5):

* A methodology maps every cost category to one rule: a weighted **mix** of the keys ``area_m2``,
  ``modules``, ``advisors``, ``attentions`` and ``equal`` (weights total exactly 1), or a **fixed** split
  (percentages per RUC totalling exactly 100). A category without a rule is an error before computing.
* Capacity keys (``area_m2``, ``modules``, ``advisors``, ``equal``) are multiplied by the fraction of the
  period's days the entity was vigente (days counted inclusively); ``attentions`` are taken as served.
* Vacant capacity (``area_m2``, ``modules``, ``advisors`` only; averages over the period) is an explicit
  participant in those denominators when the policy is ``administering`` (its share is charged to the
  administering entity); with ``redistribute`` it is left out of the denominators.
* An entity's exact share of an item is a rational number. The amount is split to the céntimo by largest
  remainder: floor every share to céntimos, then one céntimo each to the largest remainders, ties to the
  lower RUC. The lines of an item always add up to the item.
* A key whose total is zero sends the whole item to an ``unallocated`` (``no_distribuido``) line with the
  reason; nothing is dropped silently.

Arithmetic: every quantity is turned into an integer on a common scale, so a rule's shares are integers
``n_e`` over one common denominator ``D`` (``Σ n_e = D`` exactly) and splitting an item of ``C`` céntimos
is integer division: ``floor = C·n_e // D``, ``remainder = C·n_e mod D``. That is both exact and fast.

Cost: linear in entities × items. Drivers become integers once per case (not once per rule), each category's
shares once and their RUC order once (not per item), an item is one pass of integer divisions and one sort of
its remainders, and a line is a named tuple (10,000 entities × 50 items in well under a second; see
``bench/bench_allocation.py``, which compares it with a bare largest-remainder split).
"""

from __future__ import annotations

import gc
import hashlib
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, NamedTuple

from stdnum.pe import ruc as pe_ruc  # pure check-digit arithmetic

from app.errors import ValidationFailed

CAPACITY_KEYS = ("area_m2", "modules", "advisors", "equal")
KEYS = ("area_m2", "modules", "advisors", "attentions", "equal")
DRIVER_KEYS = ("area_m2", "modules", "advisors", "attentions")  # what a participant records ("equal" is 1)
VACANCY_KEYS = ("area_m2", "modules", "advisors")
VACANCY_POLICIES = ("administering", "redistribute")
ROUNDING_RULES = ("largest_remainder",)
FIXED = "fixed"
CENT = Decimal("0.01")

KEY_LABELS = {
    "area_m2": "área (m²)",
    "modules": "módulos",
    "advisors": "asesores",
    "attentions": "atenciones",
    "equal": "partes iguales",
    FIXED: "porcentaje fijo",
}
VACANCY_LABELS = {"administering": "la asume la entidad administradora",
                  "redistribute": "se redistribuye entre las participantes"}


class AllocationInputError(ValidationFailed):
    """The case cannot be computed; the message says exactly what is wrong (in Spanish)."""

    code = "calculo_invalido"


# --------------------------------------------------------------------------------------------- input ---


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True)
class Participant:
    ruc: str
    name: str
    active_from: date
    active_to: date | None
    drivers: Mapping[str, Decimal]

    def vigente_days(self, period: Period) -> int:
        start = max(self.active_from, period.start)
        end = min(self.active_to or period.end, period.end)
        return max(0, (end - start).days + 1)


@dataclass(frozen=True)
class Vacancy:
    policy: str = "redistribute"
    administering_ruc: str | None = None
    drivers: Mapping[str, Decimal] = field(default_factory=dict)
    administering_name: str = ""


@dataclass(frozen=True)
class MixRule:
    weights: Mapping[str, Fraction]  # key -> weight; weights total exactly 1

    @property
    def kind(self) -> str:
        return "mix"


@dataclass(frozen=True)
class FixedRule:
    percentages: Mapping[str, Fraction]  # ruc -> percentage; total exactly 100

    @property
    def kind(self) -> str:
        return FIXED


Rule = MixRule | FixedRule


@dataclass(frozen=True)
class Methodology:
    version: str
    rules: Mapping[str, Rule]
    rounding: str = "largest_remainder"


@dataclass(frozen=True)
class CostItem:
    id: str
    category: str
    amount: Decimal


@dataclass(frozen=True)
class Case:
    period: Period
    participants: tuple[Participant, ...]
    vacancy: Vacancy
    methodology: Methodology
    costs: tuple[CostItem, ...]


# -------------------------------------------------------------------------------------------- output ---


@dataclass(frozen=True)
class Component:
    """One key's contribution to an entity's share of an item: weight × quantity ÷ total."""

    key: str
    weight: Fraction
    driver: Decimal | None  # the value recorded (None for "equal" and fixed rules)
    days: int | None  # vigente days (capacity keys)
    period_days: int | None
    quantity: Fraction  # the entity's own quantity after proration
    vacancy_quantity: Fraction  # vacant capacity charged to this entity (administering policy), else 0
    total: Fraction  # the denominator: everyone's quantity (+ the vacancy when it takes part)

    @property
    def fraction(self) -> Fraction:
        return (self.quantity + self.vacancy_quantity) / self.total if self.total else Fraction(0)

    @property
    def contribution(self) -> Fraction:
        return self.weight * self.fraction


class Line(NamedTuple):
    """One entity's charge for one item. A named tuple rather than a frozen dataclass: an allocation of
    10,000 entities × 50 items builds half a million of them, and a tuple is built several times faster."""

    cost_id: str
    category: str
    ruc: str
    cents: int  # the amount charged, in céntimos
    exact_numerator: int  # exact amount in céntimos = exact_numerator / denominator
    denominator: int
    share_numerator: int  # share of the item = share_numerator / denominator
    extra_cent: bool  # received one of the remaining céntimos (largest remainder)

    @property
    def amount(self) -> Decimal:
        return Decimal(self.cents).scaleb(-2)

    @property
    def share(self) -> Fraction:
        return Fraction(self.share_numerator, self.denominator)

    @property
    def exact(self) -> Fraction:
        """The exact amount in soles (a rational number)."""
        return Fraction(self.exact_numerator, self.denominator * 100)

    @property
    def rounding(self) -> Fraction:
        """What rounding added (positive) or removed (negative) against the exact amount, in soles."""
        return Fraction(self.cents) / 100 - self.exact


@dataclass(frozen=True)
class Unallocated:
    cost_id: str
    category: str
    amount: Decimal
    reason: str


@dataclass
class RuleShares:
    """One category's shares: integers over one common denominator, and the derivation behind them."""

    category: str
    rule: Rule
    denominator: int
    numerators: dict[str, int]  # ruc -> n (Σ n = denominator)
    components: dict[str, list[Component]]  # ruc -> what its share is made of
    zero_reason: str | None = None
    _ordered: tuple[list[str], list[int]] | None = field(default=None, repr=False, compare=False)

    def ordered(self) -> tuple[list[str], list[int]]:
        """RUCs in ascending order and their numerators: sorted once per category, not once per item."""
        if self._ordered is None:
            rucs = sorted(self.numerators)
            self._ordered = (rucs, [self.numerators[r] for r in rucs])
        return self._ordered


@dataclass
class AllocationResult:
    case: Case
    lines: list[Line]
    unallocated: list[Unallocated]
    shares: dict[str, RuleShares]  # category -> its shares and derivation
    names: dict[str, str]  # ruc -> name

    def totals(self) -> dict[str, Decimal]:
        cents: dict[str, int] = {p.ruc: 0 for p in self.case.participants}
        for line in self.lines:
            cents[line.ruc] = cents.get(line.ruc, 0) + line.cents
        return {ruc: Decimal(c).scaleb(-2) for ruc, c in sorted(cents.items())}

    def derivation(self, category: str, ruc: str) -> list[Component]:
        return self.shares[category].components.get(ruc, [])

    def to_json(self) -> dict[str, Any]:
        """The calculator's output format (issue #6)."""
        return {
            "lines": [{"cost_id": ln.cost_id, "ruc": ln.ruc, "amount": f"{ln.amount:.2f}",
                       "share": fraction_str(ln.share, 7, ellipsis=False), "exact": fraction_str(ln.exact, 10)}
                      for ln in self.lines],
            "totals": {ruc: f"{amount:.2f}" for ruc, amount in self.totals().items()},
            "unallocated": [{"cost_id": u.cost_id, "amount": f"{u.amount:.2f}", "reason": u.reason}
                            for u in self.unallocated],
        }


def fraction_str(value: Fraction, places: int, *, ellipsis: bool = True, min_places: int = 2) -> str:
    """A rational as a decimal string: exact when it terminates within ``places`` decimals, else cut short and
    marked with "..." (``ellipsis=False``: rounded half-even to ``places``)."""
    scaled = value * 10**places
    if not ellipsis:
        return f"{Decimal(round(scaled)).scaleb(-places):.{places}f}"
    if scaled.denominator == 1:
        text = f"{Decimal(scaled.numerator).scaleb(-places):.{places}f}"
        if places > min_places:
            text = text.rstrip("0")
            whole, _, decimals = text.partition(".")
            text = whole + ("." + decimals.ljust(min_places, "0") if (decimals or min_places) else "")
        return text
    return f"{Decimal(math.trunc(scaled)).scaleb(-places):.{places}f}..."


# ------------------------------------------------------------------------------------------- parsing ---


def _decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise AllocationInputError(f"{where}: se esperaba un número escrito como texto (p. ej. \"120.50\"),"
                                   f" no {json.dumps(value, default=str)}.", field=where)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise AllocationInputError(f"{where}: «{value}» no es un número válido.", field=where) from None
    if not number.is_finite():
        raise AllocationInputError(f"{where}: «{value}» no es un número finito.", field=where)
    return number


def _date(value: Any, where: str) -> date:
    if not isinstance(value, str):
        raise AllocationInputError(f"{where}: se esperaba una fecha AAAA-MM-DD.", field=where)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise AllocationInputError(f"{where}: «{value}» no es una fecha válida (AAAA-MM-DD).", field=where) from None


def _object(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise AllocationInputError(f"{where}: se esperaba un objeto JSON.", field=where)
    return value


def _list(value: Any, where: str) -> list:
    if not isinstance(value, list):
        raise AllocationInputError(f"{where}: se esperaba una lista JSON.", field=where)
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise AllocationInputError(f"{where}: se esperaba un texto no vacío.", field=where)
    return value.strip()


def parse_rule(category: str, raw: Any) -> Rule:
    where = f"methodology.rules.{category}"
    raw = _object(raw, where)
    if FIXED in raw:
        if len(raw) != 1:
            raise AllocationInputError(f"{where}: una regla «fixed» no se puede mezclar con otras claves.",
                                       field=where)
        percentages = {_text(ruc, f"{where}.fixed"): Fraction(_decimal(p, f"{where}.fixed.{ruc}"))
                       for ruc, p in _object(raw[FIXED], f"{where}.fixed").items()}
        return FixedRule(percentages)
    return MixRule({key: Fraction(_decimal(w, f"{where}.{key}")) for key, w in raw.items()})


def parse_case(data: Any) -> Case:
    """Read the calculator's JSON input; raises :class:`AllocationInputError` with a specific message."""
    data = _object(data, "entrada")
    for required in ("period", "entities", "methodology", "costs"):
        if required not in data:
            raise AllocationInputError(f"Falta la sección «{required}» en la entrada.", field=required)
    raw_period = _object(data["period"], "period")
    period = Period(_date(raw_period.get("start"), "period.start"), _date(raw_period.get("end"), "period.end"))
    participants = []
    for i, raw in enumerate(_list(data["entities"], "entities")):
        where = f"entities[{i}]"
        raw = _object(raw, where)
        drivers = {key: _decimal(v, f"{where}.drivers.{key}")
                   for key, v in _object(raw.get("drivers", {}), f"{where}.drivers").items()}
        active_to = raw.get("active_to")
        participants.append(Participant(
            ruc=_text(raw.get("ruc"), f"{where}.ruc"), name=str(raw.get("name") or ""),
            active_from=_date(raw.get("active_from"), f"{where}.active_from") if raw.get("active_from")
            else period.start,
            active_to=_date(active_to, f"{where}.active_to") if active_to is not None else None,
            drivers=drivers))
    raw_vacancy = _object(data.get("vacancy") or {"policy": "redistribute"}, "vacancy")
    vacancy = Vacancy(
        policy=str(raw_vacancy.get("policy", "redistribute")),
        administering_ruc=raw_vacancy.get("administering_ruc"),
        drivers={key: _decimal(v, f"vacancy.drivers.{key}")
                 for key, v in _object(raw_vacancy.get("drivers", {}), "vacancy.drivers").items()},
        administering_name=str(raw_vacancy.get("administering_name") or ""))
    raw_methodology = _object(data["methodology"], "methodology")
    rules = {str(cat): parse_rule(str(cat), rule)
             for cat, rule in _object(raw_methodology.get("rules"), "methodology.rules").items()}
    methodology = Methodology(version=str(raw_methodology.get("version") or "sin versión"), rules=rules,
                              rounding=str(raw_methodology.get("rounding") or "largest_remainder"))
    costs = []
    for i, raw in enumerate(_list(data["costs"], "costs")):
        where = f"costs[{i}]"
        raw = _object(raw, where)
        costs.append(CostItem(id=_text(str(raw.get("id") or ""), f"{where}.id"),
                              category=_text(raw.get("category"), f"{where}.category"),
                              amount=_decimal(raw.get("amount"), f"{where}.amount")))
    case = Case(period, tuple(participants), vacancy, methodology, tuple(costs))
    validate(case)
    return case


# ---------------------------------------------------------------------------------------- validation ---


RUC_PREFIXES = ("10", "15", "17", "20")  # what python-stdnum's pe.ruc.validate accepts


def _plain_valid_ruc(ruc: str) -> bool:
    """Eleven ASCII digits with a valid prefix and check digit: stdnum's rule without its clean-up pass (which
    costs more than the check itself); anything else is left to :func:`validate_ruc`."""
    return (len(ruc) == 11 and ruc.isascii() and ruc.isdigit() and ruc[:2] in RUC_PREFIXES
            and pe_ruc.calc_check_digit(ruc[:10]) == ruc[10])


def validate_ruc(ruc: str, where: str) -> None:
    # Eleven plain digits (every RUC of a real case) need only the prefix and the check digit; anything else
    # goes through stdnum's whole validation (which also strips spaces). 10,000 entities: 0.1 s less.
    if _plain_valid_ruc(ruc):
        return
    if not pe_ruc.is_valid(ruc):
        raise AllocationInputError(f"{where}: «{ruc}» no es un RUC válido (11 dígitos con dígito verificador).",
                                   field=where)


def validate_rule(category: str, rule: Rule, known_rucs: Iterable[str] | None = None) -> None:
    where = f"methodology.rules.{category}"
    if isinstance(rule, FixedRule):
        if not rule.percentages:
            raise AllocationInputError(f"{where}: la distribución fija no tiene entidades.", field=where)
        for ruc, pct in rule.percentages.items():
            if pct < 0:
                raise AllocationInputError(f"{where}: el porcentaje de {ruc} es negativo ({_num(pct)}).",
                                           field=where)
            if known_rucs is not None and ruc not in known_rucs:
                raise AllocationInputError(f"{where}: el RUC {ruc} de la distribución fija no participa en el"
                                           " periodo.", field=where)
        # Σ over a common denominator: one integer sum instead of a Fraction addition per entity.
        lcm = math.lcm(*(p.denominator for p in rule.percentages.values()))
        total = Fraction(sum(p.numerator * (lcm // p.denominator) for p in rule.percentages.values()), lcm)
        if total != 100:
            raise AllocationInputError(f"{where}: los porcentajes fijos suman {_num(total)}, deben sumar"
                                       " exactamente 100.", field=where)
        return
    if not rule.weights:
        raise AllocationInputError(f"{where}: la regla no tiene claves.", field=where)
    for key, weight in rule.weights.items():
        if key not in KEYS:
            raise AllocationInputError(f"{where}: clave desconocida «{key}»; las claves válidas son "
                                       f"{', '.join(KEYS)} y fixed.", field=where)
        if weight <= 0:
            raise AllocationInputError(f"{where}: el peso de «{key}» debe ser mayor que cero"
                                       f" (es {_num(weight)}).", field=where)
    total = sum(rule.weights.values(), Fraction(0))
    if total != 1:
        raise AllocationInputError(f"{where}: los pesos suman {_num(total)}, deben sumar exactamente 1.",
                                   field=where)


def _num(value: Fraction) -> str:
    return fraction_str(value, 6, min_places=0)


def validate(case: Case) -> None:
    """Everything that must hold before computing; the first problem found is reported."""
    period = case.period
    if period.end < period.start:
        raise AllocationInputError("period: la fecha final es anterior a la inicial.", field="period")
    seen: set[str] = set()
    for i, p in enumerate(case.participants):
        where = f"entities[{i}]"
        if not _plain_valid_ruc(p.ruc):
            validate_ruc(p.ruc, f"{where}.ruc")
        if p.ruc in seen:
            raise AllocationInputError(f"{where}: el RUC {p.ruc} aparece más de una vez.", field=where)
        seen.add(p.ruc)
        if p.active_to is not None and p.active_to < p.active_from:
            raise AllocationInputError(f"{where}: active_to ({p.active_to}) es anterior a active_from"
                                       f" ({p.active_from}).", field=where)
        if p.active_from > period.end or (p.active_to is not None and p.active_to < period.start):
            raise AllocationInputError(
                f"{where}: las fechas de vigencia de {p.ruc} ({p.active_from} a {p.active_to or 'sin fin'}) están"
                f" fuera del periodo {period.start} a {period.end}.", field=where)
        for key, value in p.drivers.items():
            if key not in DRIVER_KEYS:
                raise AllocationInputError(f"{where}.drivers: clave desconocida «{key}»; las claves válidas son"
                                           f" {', '.join(DRIVER_KEYS)}.", field=where)
            if value < 0:
                raise AllocationInputError(f"{where}.drivers.{key}: no puede ser negativo ({value}).", field=where)
        if p.drivers.get("attentions", Decimal(0)) != p.drivers.get("attentions", Decimal(0)).to_integral_value():
            raise AllocationInputError(f"{where}.drivers.attentions: las atenciones son un número entero.",
                                       field=where)
    vacancy = case.vacancy
    if vacancy.policy not in VACANCY_POLICIES:
        raise AllocationInputError(f"vacancy.policy: «{vacancy.policy}» no es válido; use «administering» o"
                                   " «redistribute».", field="vacancy.policy")
    for key, value in vacancy.drivers.items():
        if key not in VACANCY_KEYS:
            raise AllocationInputError(f"vacancy.drivers: la clave «{key}» no admite vacancia; solo "
                                       f"{', '.join(VACANCY_KEYS)}.", field="vacancy.drivers")
        if value < 0:
            raise AllocationInputError(f"vacancy.drivers.{key}: no puede ser negativo ({value}).",
                                       field="vacancy.drivers")
    if vacancy.policy == "administering":
        if not vacancy.administering_ruc:
            raise AllocationInputError("vacancy.administering_ruc: con la política «administering» indique el RUC"
                                       " de la entidad administradora.", field="vacancy.administering_ruc")
        validate_ruc(vacancy.administering_ruc, "vacancy.administering_ruc")
    if case.methodology.rounding not in ROUNDING_RULES:
        raise AllocationInputError(f"methodology.rounding: «{case.methodology.rounding}» no es una regla de"
                                   " redondeo conocida; use «largest_remainder».", field="methodology.rounding")
    known = set(seen) | ({vacancy.administering_ruc} if vacancy.administering_ruc else set())
    for category, rule in case.methodology.rules.items():
        validate_rule(category, rule, known)
    ids: set[str] = set()
    missing: list[str] = []
    for i, item in enumerate(case.costs):
        where = f"costs[{i}]"
        if item.id in ids:
            raise AllocationInputError(f"{where}: el id «{item.id}» se repite.", field=where)
        ids.add(item.id)
        if item.amount < 0:
            raise AllocationInputError(f"{where}.amount: el monto no puede ser negativo ({item.amount}).",
                                       field=where)
        if item.amount != item.amount.quantize(CENT):
            raise AllocationInputError(f"{where}.amount: «{item.amount}» tiene más de dos decimales (céntimos).",
                                       field=where)
        if item.category not in case.methodology.rules and item.category not in missing:
            missing.append(item.category)
    if missing:
        raise AllocationInputError("La metodología no tiene regla para la(s) categoría(s) "
                                   f"{', '.join(missing)}: asigne una clave antes de calcular.",
                                   field="methodology.rules")


# ------------------------------------------------------------------------------------------ the engine ---


def _scaled(values: Iterable[Decimal]) -> tuple[int, list[int]]:
    """Decimals as integers on one scale 10^s (so sums and ratios stay exact)."""
    values = list(values)
    exponents = [v.as_tuple().exponent for v in values]
    s = max((-e for e in exponents if isinstance(e, int) and e < 0), default=0)
    if s == 0:
        return 0, [int(v) for v in values]
    return s, [int(v.scaleb(s)) for v in values]


class _Drivers:
    """A case's driver values as integers, per key, computed once per allocation and shared by every rule
    that uses the key (four of ten categories may weigh by area)."""

    def __init__(self, case: Case) -> None:
        self.case = case
        self.days = [p.vigente_days(case.period) for p in case.participants]
        self._cache: dict[str, tuple[list[int], int, int, int]] = {}
        vacancy = case.vacancy
        self.admin = vacancy.administering_ruc if vacancy.policy == "administering" else None

    def key(self, key: str) -> tuple[list[int], int, int, int]:
        """Integer quantities N (same scale for everyone), the vacancy's N, the total T and the scale."""
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        participants, days = self.case.participants, self.days
        zero = Decimal(0)
        if key == "equal":
            quantities, vac, scale = list(days), 0, 0
        elif key == "attentions":
            scale, quantities = _scaled([p.drivers.get(key, zero) for p in participants])
            vac = 0
        else:
            vacancy = self.case.vacancy
            vac_value = vacancy.drivers.get(key, zero) if self.admin else zero
            scale, ints = _scaled([*(p.drivers.get(key, zero) for p in participants), vac_value])
            vac = ints.pop() * self.case.period.days
            quantities = [d * n for d, n in zip(ints, days, strict=True)]
        cached = self._cache[key] = (quantities, vac, sum(quantities) + vac, scale)
        return cached


def rule_shares(case: Case, category: str, rule: Rule, drivers: _Drivers | None = None) -> RuleShares:
    """Each entity's exact share of any item of this category, as integers over a common denominator."""
    if isinstance(rule, FixedRule):
        percentages = {ruc: p for ruc, p in rule.percentages.items() if p}
        lcm = math.lcm(*(p.denominator for p in percentages.values())) if percentages else 1
        # p% of the item = p·L / (100·L), and p·L is an integer because p's denominator divides L.
        numerators = {ruc: p.numerator * (lcm // p.denominator) for ruc, p in percentages.items()}
        return RuleShares(category, rule, lcm * 100, numerators, _LazyFixedComponents(percentages))

    drivers = drivers or _Drivers(case)
    per_key = {key: drivers.key(key) for key in rule.weights}
    zero = [key for key, (_, _, total, _) in per_key.items() if total == 0]
    if zero:
        reasons = {"attentions": "nadie registró atenciones en el periodo",
                   "equal": "ninguna entidad estuvo vigente en el periodo"}
        reason = "; ".join(f"la clave «{k}» ({KEY_LABELS[k]}) suma cero: {reasons.get(k, 'nadie registró valores')}"
                           for k in zero)
        return RuleShares(category, rule, 1, {}, {},
                          zero_reason=f"{reason}. Elija otra clave o registre una decisión manual.")

    # share_e = Σ_k w_k · N_ke / T_k = n_e / D with D = lcm_k(den(w_k) · T_k): one integer per entity.
    den = math.lcm(*(w.denominator * per_key[k][2] for k, w in rule.weights.items()))
    factors = {k: w.numerator * (den // (w.denominator * per_key[k][2])) for k, w in rule.weights.items()}
    totals = [0] * len(case.participants)
    for key, factor in factors.items():  # one pass per key over the entities, not one dict walk per entity
        totals = [t + factor * q for t, q in zip(totals, per_key[key][0], strict=True)]
    numerators: dict[str, int] = {}
    for p, n in zip(case.participants, totals, strict=True):
        if n:
            numerators[p.ruc] = numerators.get(p.ruc, 0) + n
    admin = drivers.admin
    if admin:
        n = sum(factors[k] * per_key[k][1] for k in factors)
        if n:
            numerators[admin] = numerators.get(admin, 0) + n
    shares = RuleShares(category, rule, den, numerators, {})
    shares.components = _LazyComponents(case, rule, per_key, drivers.days, admin)  # type: ignore[assignment]
    return shares


class _LazyFixedComponents(dict):
    """A fixed split's derivation (the percentage itself), built only for the entities someone asks about."""

    def __init__(self, percentages: Mapping[str, Fraction]) -> None:
        super().__init__()
        self._percentages = percentages

    def get(self, ruc: str, default: Any = None) -> list[Component]:  # type: ignore[override]
        p = self._percentages.get(ruc)
        if p is None:
            return default if default is not None else []
        return [Component(FIXED, Fraction(1), None, None, None, p, Fraction(0), Fraction(100))]

    def __getitem__(self, ruc: str) -> list[Component]:
        return self.get(ruc)


class _LazyComponents(dict):
    """The derivation of each entity's share, built only when someone asks (10,000 entities need not)."""

    def __init__(self, case: Case, rule: MixRule, per_key: dict, days: list[int], admin: str | None) -> None:
        super().__init__()
        self._case, self._rule, self._per_key, self._days, self._admin = case, rule, per_key, days, admin
        self._index = {p.ruc: i for i, p in enumerate(case.participants)}

    def get(self, ruc: str, default: Any = None) -> list[Component]:  # type: ignore[override]
        if ruc not in self._index and ruc != self._admin:
            return default if default is not None else []
        if not super().__contains__(ruc):
            super().__setitem__(ruc, self._build(ruc))
        return super().__getitem__(ruc)

    def __getitem__(self, ruc: str) -> list[Component]:
        return self.get(ruc)

    def _build(self, ruc: str) -> list[Component]:
        i = self._index.get(ruc)
        period_days = self._case.period.days
        out = []
        for key, weight in self._rule.weights.items():
            quantities, vac, total, scale = self._per_key[key]
            unit = Fraction(1, 10**scale * (period_days if key in CAPACITY_KEYS and key != "equal" else 1))
            if key == "equal":
                unit = Fraction(1, period_days)
            own = Fraction(quantities[i]) * unit if i is not None else Fraction(0)
            vacant = Fraction(vac) * unit if ruc == self._admin else Fraction(0)
            participant = self._case.participants[i] if i is not None else None
            driver = None
            if participant is not None and key != "equal":
                driver = participant.drivers.get(key, Decimal(0))
            is_capacity = key in CAPACITY_KEYS
            out.append(Component(key, weight, driver, self._days[i] if (is_capacity and i is not None) else None,
                                 period_days if is_capacity else None, own, vacant, Fraction(total) * unit))
        return out


def _largest_remainder(cents: int, numerators: list[int], denominator: int) -> tuple[list[int], list[int], list[bool]]:
    """Split ``cents`` in the proportions ``numerators / denominator`` (Σ numerators = denominator), given in
    ascending RUC order: (céntimos, exact numerators, got an extra céntimo) per position. One pass for the
    floors, one sort of the remainders: a stable sort, descending, keeps the lower RUC first on a tie."""
    exacts = [cents * n for n in numerators]
    floors = [x // denominator for x in exacts]
    extra = [False] * len(numerators)
    left = cents - sum(floors)
    if left:
        remainders = [x - q * denominator for x, q in zip(exacts, floors, strict=True)]
        for i in sorted(range(len(remainders)), key=remainders.__getitem__, reverse=True)[:left]:
            floors[i] += 1
            extra[i] = True
    return floors, exacts, extra


def split_cents(cents: int, numerators: Mapping[str, int], denominator: int) -> dict[str, tuple[int, int, bool]]:
    """Largest remainder: ruc -> (céntimos, exact numerator, got an extra céntimo). Ties to the lower RUC."""
    rucs = sorted(numerators)
    floors, exacts, extra = _largest_remainder(cents, [numerators[r] for r in rucs], denominator)
    split = {ruc: (c, x, e) for ruc, c, x, e in zip(rucs, floors, exacts, extra, strict=True)}
    return {ruc: split[ruc] for ruc in numerators}


def allocate(case: Case, *, check: bool = True) -> AllocationResult:
    """Split every cost item of the case among the entities. Pure and deterministic."""
    if check:
        validate(case)
    names = {p.ruc: p.name for p in case.participants}
    if case.vacancy.administering_ruc and case.vacancy.administering_ruc not in names:
        names[case.vacancy.administering_ruc] = case.vacancy.administering_name
    drivers = _Drivers(case)
    shares: dict[str, RuleShares] = {}
    lines: list[Line] = []
    unallocated: list[Unallocated] = []
    with _cyclic_gc_paused():
        for item in case.costs:
            rs = shares.get(item.category)
            if rs is None:
                rs = shares[item.category] = rule_shares(case, item.category,
                                                         case.methodology.rules[item.category], drivers)
            if rs.zero_reason:
                unallocated.append(Unallocated(item.id, item.category, item.amount, rs.zero_reason))
                continue
            lines.extend(split_item(item, rs))
    return AllocationResult(case, lines, unallocated, shares, names)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """The split builds hundreds of thousands of tuples and no reference cycle: the cyclic collector would only
    walk them again and again as the result grows (most of the growth beyond linear at 10,000 entities).
    Reference counting still frees everything; the collector runs as before once the split is done."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


_new_line = tuple.__new__  # Line(...) without the generated __new__'s extra call: ~500,000 of them per case


def split_item(item: CostItem, rs: RuleShares, *, sign: int = 1) -> list[Line]:
    """The lines of one item in RUC order (``sign=-1`` splits a negative adjustment: |amount| split, then
    negated)."""
    cents = int(abs(item.amount).scaleb(2))
    rucs, numerators = rs.ordered()
    den = rs.denominator
    floors, exacts, extra = _largest_remainder(cents, numerators, den)
    cost_id, category = item.id, item.category
    if sign < 0:
        floors, exacts = [-c for c in floors], [-x for x in exacts]
    return [_new_line(Line, (cost_id, category, ruc, c, x, den, n, e))
            for ruc, c, x, n, e in zip(rucs, floors, exacts, numerators, extra, strict=True)]


def allocate_delta(case: Case, item: CostItem, delta: Decimal) -> list[Line]:
    """Split a correction of ``item`` (``delta`` may be negative) with the basis of the original case."""
    rule = case.methodology.rules[item.category]
    rs = rule_shares(case, item.category, rule)
    if rs.zero_reason:
        raise AllocationInputError(f"No se puede repartir el ajuste de «{item.id}»: {rs.zero_reason}")
    adjusted = CostItem(item.id, item.category, abs(delta))
    return split_item(adjusted, rs, sign=-1 if delta < 0 else 1)


# -------------------------------------------------------------------------------- canonical form, hash ---


def case_to_json(case: Case) -> dict[str, Any]:
    """The canonical input document (the calculator's format): what is stored and hashed."""
    def rule_json(rule: Rule) -> dict:
        if isinstance(rule, FixedRule):
            return {FIXED: {ruc: _num(p) for ruc, p in sorted(rule.percentages.items())}}
        return {k: _num(w) for k, w in sorted(rule.weights.items())}

    return {
        "period": {"start": case.period.start.isoformat(), "end": case.period.end.isoformat()},
        "entities": [{"ruc": p.ruc, "name": p.name, "active_from": p.active_from.isoformat(),
                      "active_to": p.active_to.isoformat() if p.active_to else None,
                      "drivers": {k: str(v) for k, v in sorted(p.drivers.items())}}
                     for p in sorted(case.participants, key=lambda p: p.ruc)],
        "vacancy": {"policy": case.vacancy.policy, "administering_ruc": case.vacancy.administering_ruc,
                    "administering_name": case.vacancy.administering_name,
                    "drivers": {k: str(v) for k, v in sorted(case.vacancy.drivers.items())}},
        "methodology": {"version": case.methodology.version, "rounding": case.methodology.rounding,
                        "rules": {c: rule_json(r) for c, r in sorted(case.methodology.rules.items())}},
        "costs": [{"id": c.id, "category": c.category, "amount": f"{c.amount:.2f}"} for c in case.costs],
    }


def canonical_hash(document: Any) -> str:
    """SHA-256 of a JSON document written canonically (sorted keys, no spaces)."""
    payload = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()
