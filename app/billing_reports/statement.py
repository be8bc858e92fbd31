"""What a statement says, as plain data: the contract between cost sharing and the statement layouts.

PURE: no database, no web, no files. The adapter in :mod:`app.billing_reports.services` builds a
:class:`StatementData` from cost sharing's stored allocation (lines with their derivation, adjustments, the fee
for use of premises); :mod:`app.billing_reports.pdf` and :mod:`app.billing_reports.exports` lay the same data
out as PDF, CSV and XLSX, so the three documents always carry the same lines and the same totals.

Every line of a statement is one charge to the entity: its share of one cost item (``reparto``), an adjustment
of an earlier, closed period (``ajuste``) or the fee for use of premises (``tarifa``). The totals are sums of
the lines and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

CENT = Decimal("0.01")
PERCENT_PLACES = Decimal("0.0001")  # shares are shown as percentages with four decimals
QUANTITY_PLACES = Decimal("0.0001")

KIND_REPARTO = "reparto"
KIND_AJUSTE = "ajuste"
KIND_TARIFA = "tarifa"
KINDS = (KIND_REPARTO, KIND_AJUSTE, KIND_TARIFA)

STATUS_PRELIMINAR = "preliminar"
STATUS_DEFINITIVO = "definitivo"
STATUS_LABELS = {STATUS_PRELIMINAR: "PRELIMINAR", STATUS_DEFINITIVO: "DEFINITIVO"}

FEE_CATEGORY_LABEL = "Tarifa por uso del local"
ADJUSTMENT_CATEGORY_LABEL = "Ajustes de periodos anteriores"

MONTHS = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
          "noviembre", "diciembre")
MONTHS_SHORT = ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic")


# ------------------------------------------------------------------------------------------ formatting ---


def soles(amount: Decimal | int) -> str:
    """S/ 1,234.56 (negative amounts as -S/ 1,234.56)."""
    value = Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)
    sign = "-" if value < 0 else ""
    return f"{sign}S/ {abs(value):,.2f}"


def number(value: Decimal | None, places: int = 2) -> str:
    """1,234.50 — thousands with commas, decimals with a point, as amounts are read in Peru."""
    if value is None:
        return "—"
    return f"{Decimal(value):,.{places}f}"


def percentage(value: Decimal) -> str:
    return f"{Decimal(value):.4f} %"


def fecha_larga(d: date) -> str:
    """23 de noviembre de 2026."""
    return f"{d.day} de {MONTHS[d.month - 1]} de {d.year}"


def fecha_corta(d: date) -> str:
    return d.strftime("%d/%m/%Y")


def periodo_label(start: date) -> str:
    """Octubre 2026."""
    return f"{MONTHS[start.month - 1].capitalize()} {start.year}"


def periodo_code(start: date) -> str:
    """2026-10: the period as accountants sort it."""
    return f"{start.year:04d}-{start.month:02d}"


def mes_corto(start: date) -> str:
    return f"{MONTHS_SHORT[start.month - 1]} {start.year % 100:02d}"


def to_percentage(share: Fraction) -> Decimal:
    """An exact share (0..1) as a percentage with four decimals (half up)."""
    return (Decimal(share.numerator) * 100 / Decimal(share.denominator)).quantize(PERCENT_PLACES,
                                                                                    rounding=ROUND_HALF_UP)


def to_quantity(value: Fraction | Decimal | int) -> Decimal:
    if isinstance(value, Fraction):
        value = Decimal(value.numerator) / Decimal(value.denominator)
    return Decimal(value).quantize(QUANTITY_PLACES, rounding=ROUND_HALF_UP).normalize()


# ----------------------------------------------------------------------------------------------- data ---


@dataclass(frozen=True)
class Party:
    name: str
    ruc: str


@dataclass(frozen=True)
class DerivationStep:
    """One key's part in an entity's share of an item: weight × (quantity ÷ total)."""

    key: str  # "área (m²)", "atenciones", "porcentaje fijo", ...
    weight: str  # "1/2", "1"
    driver: str  # the value recorded for the entity ("120.50"), "—" when none
    days: str  # "20 de 31 días" for prorated capacity keys, "—" otherwise
    quantity: str  # the entity's quantity after proration
    total: str  # everyone's quantity (with the vacancy when it takes part)
    fraction: str  # quantity ÷ total


@dataclass(frozen=True)
class StatementLine:
    kind: str  # reparto | ajuste | tarifa
    category: str  # category code ("limpieza"), "tarifa" or "ajuste"
    category_label: str
    item: str  # the item's description
    key: str  # the distribution key, as people read it
    quantity: Decimal | None  # the entity's quantity of the key (None for mixed keys and fixed charges)
    total_quantity: Decimal | None
    percentage: Decimal  # the entity's share of the item, in % with four decimals
    item_amount: Decimal  # the whole item
    amount: Decimal  # what the entity is charged (may be negative for an adjustment)
    exact: str = ""  # the exact amount (rational, as a decimal with ellipsis)
    rounding: Decimal = Decimal(0)  # amount − exact
    extra_cent: bool = False
    steps: tuple[DerivationStep, ...] = ()
    document_ref: str = ""  # the item's invoice / order
    adjustment_ref: str = ""  # for an adjustment: what it corrects


@dataclass(frozen=True)
class MonthShare:
    start: date
    amount: Decimal  # the entity's total in that month's statement


@dataclass(frozen=True)
class Replacement:
    number: str  # the statement this one replaces
    reason: str


@dataclass(frozen=True)
class AccountSection:
    """The entity's account at this centre on the issue date (:func:`app.billing_reports.balances.statement_account`):
    previous balance − payments received since the last statement + this period's charges + other charges =
    balance due."""

    previous_balance: Decimal
    payments_since_last: Decimal
    charges: Decimal
    other_charges: Decimal
    balance_due: Decimal
    due_on: date


@dataclass(frozen=True)
class StatementData:
    number: str  # "EC-2026-10-MACCALLAO-20295613620-v1"
    version: int
    issued_on: date
    status: str  # preliminar | definitivo
    centre_name: str
    administering: Party
    participant: Party
    period_start: date
    period_end: date
    methodology_version: str
    methodology_title: str
    vacancy_policy: str  # as people read it
    rounding_rule: str
    lines: tuple[StatementLine, ...]
    history: tuple[MonthShare, ...] = ()  # the entity's totals in this centre over the last 12 months
    verification_code: str = ""
    verification_url: str = ""
    replaces: Replacement | None = None
    demo: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)
    account: AccountSection | None = None

    @property
    def period_label(self) -> str:
        return periodo_label(self.period_start)

    @property
    def period_code(self) -> str:
        return periodo_code(self.period_start)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


@dataclass(frozen=True)
class Totals:
    common_costs: Decimal
    fee: Decimal
    adjustments: Decimal
    total: Decimal


def totals(lines: Iterable[StatementLine]) -> Totals:
    """The summary: sums of the lines by kind. Nothing else goes into a total."""
    by_kind = {k: Decimal("0.00") for k in KINDS}
    for line in lines:
        by_kind[line.kind] += line.amount
    common, fee, adjustments = by_kind[KIND_REPARTO], by_kind[KIND_TARIFA], by_kind[KIND_AJUSTE]
    return Totals(common_costs=common, fee=fee, adjustments=adjustments, total=common + fee + adjustments)


def by_category(lines: Iterable[StatementLine]) -> list[tuple[str, str, list[StatementLine]]]:
    """(category, label, lines) in order of first appearance: the common-cost categories, then adjustments and
    the fee, each in its own table."""
    groups: dict[str, tuple[str, list[StatementLine]]] = {}
    for line in lines:
        groups.setdefault(line.category, (line.category_label, []))[1].append(line)
    order = sorted(groups, key=lambda c: ({KIND_REPARTO: 0, KIND_AJUSTE: 1, KIND_TARIFA: 2}[groups[c][1][0].kind]))
    return [(c, groups[c][0], groups[c][1]) for c in order]


def category_totals(lines: Iterable[StatementLine]) -> list[tuple[str, Decimal]]:
    """(label, amount) of the common-cost categories, for the chart of the split."""
    return [(label, sum((ln.amount for ln in group), Decimal("0.00")))
            for _code, label, group in by_category(lines) if group[0].kind == KIND_REPARTO]


# ------------------------------------------------------------------------------------- stored form ---


def to_json(data: StatementData) -> dict:
    """The statement as JSON (amounts and quantities as decimal strings, dates ISO): stored with the statement
    so that consolidated exports reuse exactly the figures of the documents."""

    def plain(value: object) -> object:
        if isinstance(value, Decimal):
            return format(value, "f")
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        if hasattr(value, "__dataclass_fields__"):
            return {k: plain(getattr(value, k)) for k in value.__dataclass_fields__}
        return value

    return plain(data)  # type: ignore[return-value]


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def from_json(doc: dict) -> StatementData:
    lines = tuple(StatementLine(
        kind=ln["kind"], category=ln["category"], category_label=ln["category_label"], item=ln["item"],
        key=ln["key"], quantity=_dec(ln["quantity"]), total_quantity=_dec(ln["total_quantity"]),
        percentage=Decimal(ln["percentage"]), item_amount=Decimal(ln["item_amount"]), amount=Decimal(ln["amount"]),
        exact=ln["exact"], rounding=Decimal(ln["rounding"]), extra_cent=ln["extra_cent"],
        steps=tuple(DerivationStep(**s) for s in ln["steps"]), document_ref=ln["document_ref"],
        adjustment_ref=ln["adjustment_ref"]) for ln in doc["lines"])
    return StatementData(
        number=doc["number"], version=doc["version"], issued_on=date.fromisoformat(doc["issued_on"]),
        status=doc["status"], centre_name=doc["centre_name"], administering=Party(**doc["administering"]),
        participant=Party(**doc["participant"]), period_start=date.fromisoformat(doc["period_start"]),
        period_end=date.fromisoformat(doc["period_end"]), methodology_version=doc["methodology_version"],
        methodology_title=doc["methodology_title"], vacancy_policy=doc["vacancy_policy"],
        rounding_rule=doc["rounding_rule"], lines=lines,
        history=tuple(MonthShare(date.fromisoformat(m["start"]), Decimal(m["amount"])) for m in doc["history"]),
        verification_code=doc["verification_code"], verification_url=doc["verification_url"],
        replaces=Replacement(**doc["replaces"]) if doc.get("replaces") else None, demo=doc["demo"],
        notes=tuple(doc["notes"]), account=_account(doc.get("account")))


def _account(doc: dict | None) -> AccountSection | None:
    if not doc:
        return None
    return AccountSection(**{k: date.fromisoformat(v) if k == "due_on" else Decimal(v) for k, v in doc.items()})
