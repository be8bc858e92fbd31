"""Balances of the participants' accounts: which payment pays which statement, what is outstanding, overdue and
since when. PURE: no database, no web, no clock (the cut-off date is an input), shared by the web, the worker
and the offline calculator (``mac costs saldos``).

An account is one entity at one centre. The rules (README, «Saldos y pagos»):

1. Only statements issued on or before the cut-off and payments received on or before it count; the others
   are not listed.
2. A statement named in another counted statement's ``replaces`` is superseded (``reemplazado``): paid 0 and
   in no figure; a payment naming it applies to its latest replacement instead.
3. Payments apply in order (received date, then id): first to the statements they name, in the order given,
   each up to what is still outstanding; then to the account's outstanding statements by (due date, period,
   id); the rest is the payment's unapplied amount (the account's credit).
4. Status at the cut-off: ``pagado``, ``vencido`` (outstanding after the due date), ``parcial``, ``pendiente``;
   days overdue and the ageing bucket only for ``vencido``.
5. An account's charged − paid = outstanding; credit is what its payments left unapplied; overdue is the
   outstanding of its ``vencido`` statements.

Money is ``Decimal`` with two places throughout; nothing is ever rounded (every input has at most two places).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from datetime import date
from decimal import Decimal

ZERO = Decimal("0.00")

PAGADO = "pagado"
PARCIAL = "parcial"
PENDIENTE = "pendiente"
VENCIDO = "vencido"
REEMPLAZADO = "reemplazado"
STATUS_LABELS = {PAGADO: "Pagado", PARCIAL: "Pago parcial", PENDIENTE: "Pendiente", VENCIDO: "Vencido",
                 REEMPLAZADO: "Reemplazado"}

AL_DIA = "al_dia"
BUCKETS = (AL_DIA, "1-30", "31-60", "61-90", "91+")
BUCKET_LABELS = {AL_DIA: "Al día", "1-30": "1–30 días", "31-60": "31–60 días", "61-90": "61–90 días",
                 "91+": "91 días o más"}

_AMOUNT = re.compile(r"^\d{1,12}(\.\d{1,2})?$")
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class BalanceInputError(ValueError):
    """A case the rules refuse, with a Spanish message saying what and where."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


# ---------------------------------------------------------------------------------------------- input ---


@dataclass(frozen=True)
class StatementIn:
    id: str
    entity_ruc: str
    centre: str
    period: str  # "2026-10"
    issued_on: date
    due_on: date
    amount: Decimal
    replaces: str | None = None

    @property
    def account(self) -> tuple[str, str]:
        return (self.entity_ruc, self.centre)


@dataclass(frozen=True)
class PaymentIn:
    id: str
    entity_ruc: str
    centre: str
    received_on: date
    amount: Decimal
    applies_to: tuple[str, ...] = ()
    reference: str | None = None
    siaf_expediente: str | None = None

    @property
    def account(self) -> tuple[str, str]:
        return (self.entity_ruc, self.centre)


@dataclass(frozen=True)
class Case:
    as_of: date
    statements: tuple[StatementIn, ...]
    payments: tuple[PaymentIn, ...]


def parse_amount(value: object, where: str) -> Decimal:
    """A plain decimal with at most two places, as a string ("26900.00", "150"): no thousands separators,
    no comma decimals, no sign, no exponent."""
    if not isinstance(value, str) or not _AMOUNT.match(value):
        raise BalanceInputError(
            f"{where}: el importe «{value}» no es válido; escríbalo como texto con punto decimal y a lo más dos "
            "decimales, sin separador de miles ni signo (por ejemplo \"26900.00\").", where)
    return Decimal(value).quantize(Decimal("0.01"))


def _date(value: object, where: str) -> date:
    try:
        return date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else _bad_date(value, where)
    except ValueError:
        return _bad_date(value, where)


def _bad_date(value: object, where: str) -> date:
    raise BalanceInputError(f"{where}: la fecha «{value}» no es válida (use AAAA-MM-DD).", where)


def _text(doc: dict, key: str, where: str, *, required: bool = True) -> str | None:
    value = doc.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise BalanceInputError(f"{where}: falta «{key}» (texto).", where)
    return value.strip()


def parse_case(doc: object) -> Case:
    """The calculator's input document (README) as a :class:`Case`, checked (rule 6)."""
    if not isinstance(doc, dict):
        raise BalanceInputError("La entrada debe ser un objeto JSON con as_of, statements y payments.")
    as_of = _date(doc.get("as_of"), "as_of")
    raw_statements, raw_payments = doc.get("statements", []), doc.get("payments", [])
    if not isinstance(raw_statements, list) or not isinstance(raw_payments, list):
        raise BalanceInputError("«statements» y «payments» deben ser listas.")
    statements = []
    for i, s in enumerate(raw_statements):
        where = f"statements[{i}]"
        if not isinstance(s, dict):
            raise BalanceInputError(f"{where}: debe ser un objeto.", where)
        sid = _text(s, "id", where)
        where = f"estado de cuenta {sid}"
        period = _text(s, "period", where)
        if not _PERIOD.match(period):
            raise BalanceInputError(f"{where}: el periodo «{period}» no es válido (use AAAA-MM).", where)
        statements.append(StatementIn(
            id=sid, entity_ruc=_text(s, "entity_ruc", where), centre=_text(s, "centre", where), period=period,
            issued_on=_date(s.get("issued_on"), f"{where} (issued_on)"),
            due_on=_date(s.get("due_on"), f"{where} (due_on)"), amount=parse_amount(s.get("amount"), where),
            replaces=_text(s, "replaces", where, required=False)))
    payments = []
    for i, p in enumerate(raw_payments):
        where = f"payments[{i}]"
        if not isinstance(p, dict):
            raise BalanceInputError(f"{where}: debe ser un objeto.", where)
        pid = _text(p, "id", where)
        where = f"pago {pid}"
        applies = p.get("applies_to") or []
        if not isinstance(applies, list) or not all(isinstance(a, str) and a for a in applies):
            raise BalanceInputError(f"{where}: «applies_to» debe ser una lista de identificadores de estados de "
                                    "cuenta.", where)
        payments.append(PaymentIn(
            id=pid, entity_ruc=_text(p, "entity_ruc", where), centre=_text(p, "centre", where),
            received_on=_date(p.get("received_on"), f"{where} (received_on)"),
            amount=parse_amount(p.get("amount"), where), applies_to=tuple(applies),
            reference=_text(p, "reference", where, required=False),
            siaf_expediente=_text(p, "siaf_expediente", where, required=False)))
    case = Case(as_of, tuple(statements), tuple(payments))
    check_case(case)
    return case


def check_case(case: Case) -> None:
    """Rule 6 on an already typed case (the web and the worker build cases from stored data)."""
    by_id: dict[str, StatementIn] = {}
    for s in case.statements:
        if s.id in by_id:
            raise BalanceInputError(f"El identificador de estado de cuenta «{s.id}» está repetido.", s.id)
        if s.amount < 0 or s.amount != s.amount.quantize(Decimal("0.01")):
            raise BalanceInputError(f"estado de cuenta {s.id}: el importe no puede ser negativo ni tener más de "
                                    "dos decimales.", s.id)
        by_id[s.id] = s
    replaced_by: dict[str, str] = {}
    for s in case.statements:
        if s.replaces is None:
            continue
        old = by_id.get(s.replaces)
        if old is None:
            raise BalanceInputError(f"estado de cuenta {s.id}: reemplaza a «{s.replaces}», que no está en la "
                                    "entrada.", s.id)
        if old.account != s.account:
            raise BalanceInputError(f"estado de cuenta {s.id}: reemplaza a «{s.replaces}», que es de otra cuenta "
                                    f"(RUC {old.entity_ruc}, centro {old.centre}).", s.id)
        if s.replaces in replaced_by:
            raise BalanceInputError(f"El estado de cuenta «{s.replaces}» es reemplazado dos veces (por "
                                    f"«{replaced_by[s.replaces]}» y por «{s.id}»).", s.id)
        replaced_by[s.replaces] = s.id
    for s in case.statements:  # a chain of replacements must end
        seen, current = {s.id}, s.replaces
        while current is not None:
            if current in seen:
                raise BalanceInputError(f"Los reemplazos forman un ciclo que pasa por «{s.id}».", s.id)
            seen.add(current)
            current = by_id[current].replaces
    seen_payments: set[str] = set()
    for p in case.payments:
        if p.id in seen_payments:
            raise BalanceInputError(f"El identificador de pago «{p.id}» está repetido.", p.id)
        seen_payments.add(p.id)
        if p.amount <= 0 or p.amount != p.amount.quantize(Decimal("0.01")):
            raise BalanceInputError(f"pago {p.id}: el importe debe ser mayor que cero, con a lo más dos decimales.",
                                    p.id)
        for target in p.applies_to:
            st = by_id.get(target)
            if st is None:
                raise BalanceInputError(f"pago {p.id}: se aplica a «{target}», que no está en la entrada.", p.id)
            if st.account != p.account:
                raise BalanceInputError(f"pago {p.id}: se aplica a «{target}», que es de otra cuenta (RUC "
                                        f"{st.entity_ruc}, centro {st.centre}).", p.id)


# --------------------------------------------------------------------------------------------- output ---


@dataclass(frozen=True)
class Application:
    statement: str
    amount: Decimal


@dataclass(frozen=True)
class PaymentResult:
    payment: PaymentIn
    applied: tuple[Application, ...]
    unapplied: Decimal

    @property
    def id(self) -> str:
        return self.payment.id


@dataclass(frozen=True)
class StatementResult:
    statement: StatementIn
    paid: Decimal
    outstanding: Decimal
    status: str
    days_overdue: int
    bucket: str
    replaced_by: str | None = None

    @property
    def id(self) -> str:
        return self.statement.id

    @property
    def live(self) -> bool:
        return self.status != REEMPLAZADO


@dataclass(frozen=True)
class Account:
    entity_ruc: str
    centre: str
    charged: Decimal
    paid: Decimal
    outstanding: Decimal
    credit: Decimal
    overdue: Decimal
    ageing: dict[str, Decimal] = field(default_factory=dict)  # outstanding by bucket

    @property
    def balance(self) -> Decimal:
        """What the entity owes net of its credit (negative: the centre owes the entity)."""
        return self.outstanding - self.credit


@dataclass(frozen=True)
class Balances:  # frozen; the lookup index below is computed once per instance
    as_of: date
    accounts: tuple[Account, ...]
    statements: tuple[StatementResult, ...]
    payments: tuple[PaymentResult, ...]

    @cached_property
    def _index(self) -> tuple[dict, dict, dict]:
        return ({(a.entity_ruc, a.centre): a for a in self.accounts}, {s.id: s for s in self.statements},
                {p.id: p for p in self.payments})

    def account(self, entity_ruc: str, centre: str) -> Account | None:
        return self._index[0].get((entity_ruc, centre))

    def statement(self, statement_id: str) -> StatementResult | None:
        return self._index[1].get(statement_id)

    def payment(self, payment_id: str) -> PaymentResult | None:
        return self._index[2].get(payment_id)

    def to_json(self) -> dict:
        return {
            "as_of": self.as_of.isoformat(),
            "accounts": [{"entity_ruc": a.entity_ruc, "centre": a.centre, "charged": _m(a.charged),
                          "paid": _m(a.paid), "outstanding": _m(a.outstanding), "credit": _m(a.credit),
                          "overdue": _m(a.overdue)} for a in self.accounts],
            "statements": [{"id": s.id, "entity_ruc": s.statement.entity_ruc, "centre": s.statement.centre,
                            "amount": _m(s.statement.amount), "paid": _m(s.paid), "outstanding": _m(s.outstanding),
                            "status": s.status, "days_overdue": s.days_overdue, "bucket": s.bucket}
                           for s in self.statements],
            "payments": [{"id": p.id, "applied": [{"statement": a.statement, "amount": _m(a.amount)}
                                                  for a in p.applied], "unapplied": _m(p.unapplied)}
                         for p in self.payments],
        }


def _m(amount: Decimal) -> str:
    return format(amount.quantize(Decimal("0.01")), "f")


def bucket_for(days_overdue: int) -> str:
    if days_overdue <= 0:
        return AL_DIA
    if days_overdue <= 30:
        return "1-30"
    if days_overdue <= 60:
        return "31-60"
    if days_overdue <= 90:
        return "61-90"
    return "91+"


def statement_status(amount: Decimal, paid: Decimal, due_on: date, as_of: date) -> tuple[str, int]:
    """Rule 4: (status, days overdue) of a live statement."""
    if amount - paid <= 0:
        return PAGADO, 0
    if as_of > due_on:
        return VENCIDO, (as_of - due_on).days
    return (PARCIAL if paid > 0 else PENDIENTE), 0


def compute(case: Case) -> Balances:
    """Apply the rules to a checked case (see :func:`parse_case` / :func:`check_case`)."""
    as_of = case.as_of
    statements = [s for s in case.statements if s.issued_on <= as_of]
    payments = sorted((p for p in case.payments if p.received_on <= as_of), key=lambda p: (p.received_on, p.id))
    counted = {s.id: s for s in statements}
    replaced_by = {s.replaces: s.id for s in statements if s.replaces is not None and s.replaces in counted}

    def latest(statement_id: str) -> str:
        while statement_id in replaced_by:
            statement_id = replaced_by[statement_id]
        return statement_id

    live = [s for s in statements if s.id not in replaced_by]
    outstanding = {s.id: s.amount for s in live}
    paid = {s.id: ZERO for s in live}
    queue: dict[tuple[str, str], list[StatementIn]] = defaultdict(list)
    for s in sorted(live, key=lambda s: (s.due_on, s.period, s.id)):
        queue[s.account].append(s)

    results = []
    for p in payments:
        left = p.amount
        applied: dict[str, Decimal] = {}  # insertion order = order of application; one entry per statement

        def apply(statement_id: str) -> None:
            nonlocal left
            take = min(left, outstanding[statement_id])
            if take > 0:
                outstanding[statement_id] -= take
                paid[statement_id] += take
                applied[statement_id] = applied.get(statement_id, ZERO) + take
                left -= take

        for target in p.applies_to:
            target = latest(target)
            if target in outstanding and counted[target].account == p.account:
                apply(target)
        for s in queue[p.account]:
            if left <= 0:
                break
            apply(s.id)
        results.append(PaymentResult(p, tuple(Application(k, v) for k, v in applied.items()), left))

    statement_results = []
    for s in statements:
        if s.id in replaced_by:
            statement_results.append(StatementResult(s, ZERO, ZERO, REEMPLAZADO, 0, AL_DIA, replaced_by[s.id]))
            continue
        status, days = statement_status(s.amount, paid[s.id], s.due_on, as_of)
        statement_results.append(StatementResult(s, paid[s.id], outstanding[s.id], status, days, bucket_for(days)))

    by_account: dict[tuple[str, str], list[StatementResult]] = defaultdict(list)
    for r in statement_results:
        if r.live:
            by_account[r.statement.account].append(r)
    credit: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for r in results:
        credit[r.payment.account] += r.unapplied
    accounts = []
    for key in sorted(set(by_account) | set(credit), key=lambda k: (k[1], k[0])):
        mine = by_account.get(key, [])
        ageing = {b: ZERO for b in BUCKETS}
        for r in mine:
            ageing[r.bucket] += r.outstanding
        charged = sum((r.statement.amount for r in mine), ZERO)
        paid_total = sum((r.paid for r in mine), ZERO)
        accounts.append(Account(
            entity_ruc=key[0], centre=key[1], charged=charged, paid=paid_total, outstanding=charged - paid_total,
            credit=credit.get(key, ZERO), overdue=sum((r.outstanding for r in mine if r.status == VENCIDO), ZERO),
            ageing=ageing))
    return Balances(as_of, tuple(accounts), tuple(sorted(statement_results, key=lambda r: r.id)),
                    tuple(sorted(results, key=lambda r: r.id)))


def balances(as_of: date, statements: Iterable[StatementIn], payments: Iterable[PaymentIn]) -> Balances:
    """Check and compute in one call (stored data goes through the same rules as the calculator's input)."""
    case = Case(as_of, tuple(statements), tuple(payments))
    check_case(case)
    return compute(case)


def case_to_json(case: Case) -> dict:
    """The calculator's input document for a case (``mac costs saldos --exportar``)."""
    def statement(s: StatementIn) -> dict:
        doc = {"id": s.id, "entity_ruc": s.entity_ruc, "centre": s.centre, "period": s.period,
               "issued_on": s.issued_on.isoformat(), "due_on": s.due_on.isoformat(), "amount": _m(s.amount)}
        if s.replaces:
            doc["replaces"] = s.replaces
        return doc

    def payment(p: PaymentIn) -> dict:
        doc = {"id": p.id, "entity_ruc": p.entity_ruc, "centre": p.centre, "received_on": p.received_on.isoformat(),
               "amount": _m(p.amount)}
        if p.applies_to:
            doc["applies_to"] = list(p.applies_to)
        if p.reference:
            doc["reference"] = p.reference
        if p.siaf_expediente:
            doc["siaf_expediente"] = p.siaf_expediente
        return doc

    return {"as_of": case.as_of.isoformat(), "statements": [statement(s) for s in sorted(case.statements,
                                                                                         key=lambda s: s.id)],
            "payments": [payment(p) for p in sorted(case.payments, key=lambda p: p.id)]}


# ------------------------------------------------------------------------------------ statement's account ---


@dataclass(frozen=True)
class StatementAccount:
    """The account as one statement's PDF shows it, at the statement's issue date. Always adds up:
    previous balance − payments since the last statement + this period's charges + other charges = balance due
    (balances are net of the account's credit; a negative balance is a credit in the entity's favour)."""

    previous_balance: Decimal  # at the issue date of the account's previous statement (0 for the first)
    charges: Decimal  # this period's statement
    other_charges: Decimal  # other statements or corrections issued since the previous statement
    payments_since_last: Decimal  # received after the previous statement's issue date, up to this one's
    balance_due: Decimal
    due_on: date


def net_balance(result: Balances, account: tuple[str, str]) -> Decimal:
    found = result.account(*account)
    return found.balance if found else ZERO


def statement_account(statement_id: str, statements: Sequence[StatementIn],
                      payments: Sequence[PaymentIn]) -> StatementAccount:
    """The account section of a statement, by the same rules as every other figure."""
    this = next(s for s in statements if s.id == statement_id)
    mine_s = [s for s in statements if s.account == this.account]
    mine_p = [p for p in payments if p.account == this.account]
    due = net_balance(balances(this.issued_on, mine_s, mine_p), this.account)
    last_issue = max((s.issued_on for s in mine_s if s.issued_on < this.issued_on), default=None)
    previous = net_balance(balances(last_issue, mine_s, mine_p), this.account) if last_issue else ZERO
    since = sum((p.amount for p in mine_p if p.received_on <= this.issued_on
                 and (last_issue is None or p.received_on > last_issue)), ZERO)
    return StatementAccount(previous_balance=previous, charges=this.amount,
                            other_charges=due - previous + since - this.amount, payments_since_last=since,
                            balance_due=due, due_on=this.due_on)
