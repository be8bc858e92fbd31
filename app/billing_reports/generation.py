"""Generating one statement, in the worker: read the stored allocation, lay it out, seal it, store the files.

Runs in a synchronous unit of work (:class:`app.worker.broker.WorkerRuntime`), as the system. Idempotent: the
statement's row is locked and its state checked first; a statement already generated is never generated again
(its files are written once, unique per statement and format), so a message delivered twice, or a batch
restarted after the worker died, gives the same documents and no duplicates.

The adapter from cost sharing's stored results (:func:`statement_data`) reads ``cost_allocation_lines`` (the
current computation's ``reparto`` lines and this period's ``ajuste`` lines, each with the derivation the engine
produced), the centre's cost items, the methodology and the adhesion's monthly fee for use of premises.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import io
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.orm import Session

from app.billing_reports import exports
from app.billing_reports.models import Statement, StatementBatch, StatementBatchItem, StatementFile
from app.billing_reports.pdf import render_statement
from app.billing_reports.statement import (
    ADJUSTMENT_CATEGORY_LABEL,
    FEE_CATEGORY_LABEL,
    KIND_AJUSTE,
    KIND_REPARTO,
    KIND_TARIFA,
    STATUS_DEFINITIVO,
    STATUS_PRELIMINAR,
    DerivationStep,
    MonthShare,
    Party,
    Replacement,
    StatementData,
    StatementLine,
    periodo_code,
    to_json,
    to_percentage,
    to_quantity,
    totals,
)
from app.config import Settings
from app.costsharing.models import CATEGORIES, CATEGORY_LABELS, AllocationLine, Computation, CostItem, CostPeriod
from app.costsharing.models import Methodology as CostMethodology
from app.errors import DomainError
from app.tenants.models import Centre, Entity

log = logging.getLogger(__name__)
LIMA = ZoneInfo("America/Lima")

KEY_LABELS = {"area_m2": "área (m²)", "modules": "módulos", "advisors": "asesores", "attentions": "atenciones",
              "equal": "partes iguales", "fixed": "porcentaje fijo"}
VACANCY_LABELS = {"administering": "la asume la entidad administradora",
                  "redistribute": "se redistribuye entre las participantes"}
ROUNDING_LABELS = {"largest_remainder": "mayor residuo al céntimo (empates: RUC menor)"}
MEDIA_TYPES = {"pdf": "application/pdf", "csv": "text/csv; charset=utf-8",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
SEAL_FIELD = "SelloPlataforma"


class StatementError(DomainError):
    code = "estado_de_cuenta"


# ------------------------------------------------------------------------------------- shared queries ---


def current_lines_query(period_id: uuid.UUID, entity_id: uuid.UUID | None = None):  # noqa: ANN201
    """The period's lines a statement is made of: the current computation's shares and its adjustments."""
    current = select(Computation.id).where(Computation.period_id == period_id, Computation.is_current)
    q = select(AllocationLine).where(
        AllocationLine.period_id == period_id,
        or_(AllocationLine.kind == "ajuste", AllocationLine.computation_id.in_(current)))
    if entity_id is not None:
        q = q.where(AllocationLine.entity_id == entity_id)
    return q


def source_hash(lines: list[AllocationLine]) -> str:
    """What a statement was requested for: its lines' ids and amounts. A recomputation changes it."""
    doc = sorted((str(ln.id), format(ln.amount, "f")) for ln in lines)
    return hashlib.sha256(json.dumps(doc).encode()).hexdigest()


def desired_status(period: CostPeriod) -> str:
    return STATUS_DEFINITIVO if period.state == "cerrado" else STATUS_PRELIMINAR


def statement_number(period_start: date, centre_code: str, ruc: str, version: int) -> str:
    return f"EC-{periodo_code(period_start)}-{centre_code}-{ruc}-v{version}"


def due_days(s: Session, centre_id: uuid.UUID) -> int:
    """The centre's payment terms (calendar days from issue to due date)."""
    from app.billing_reports.payment_models import DEFAULT_DUE_DAYS, CentrePaymentTerms

    terms = s.get(CentrePaymentTerms, centre_id)
    return terms.due_days if terms else DEFAULT_DUE_DAYS


def canonical_hash(document: object) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True, separators=(",", ":"),
                                     ensure_ascii=False).encode()).hexdigest()


def verification_url(settings: Settings, code: str) -> str:
    return f"{settings.base_url}/verificar/{code}"


# --------------------------------------------------------------------------------------------- adapter ---


def _steps(derivation: dict) -> tuple[DerivationStep, ...]:
    out = []
    for c in derivation.get("componentes", []):
        quantity = c.get("cantidad") or "0"
        vacancy = c.get("cantidad_vacancia") or "0"
        if _exact_decimal(vacancy):
            quantity = f"{quantity} + vacante {vacancy}"
        days = "—"
        if c.get("dias_vigente") is not None and c.get("clave") != "fixed":
            days = f"{c['dias_vigente']} de {c['dias_periodo']}"
        out.append(DerivationStep(
            key=c.get("etiqueta") or KEY_LABELS.get(c.get("clave"), c.get("clave", "")),
            weight=str(c.get("peso", "")), driver="—" if c.get("valor_registrado") is None else c["valor_registrado"],
            days=days, quantity=quantity, total=str(c.get("total", "")), fraction=str(c.get("fraccion", ""))))
    return tuple(out)


def _key(derivation: dict) -> str:
    comps = derivation.get("componentes", [])
    if not comps:
        return "asignación directa"
    if len(comps) == 1:
        return comps[0].get("etiqueta") or KEY_LABELS.get(comps[0]["clave"], comps[0]["clave"])
    return "mixta: " + " + ".join(f"{c.get('etiqueta') or c['clave']} {c['peso']}" for c in comps)


def _exact_decimal(text_value: str) -> Decimal:
    """A stored number such as "120.5", "1/3" or "0.3333333333..." as a Decimal (display precision)."""
    value = text_value.rstrip(".")
    if "/" in value:
        f = Fraction(value)
        return Decimal(f.numerator) / Decimal(f.denominator)
    return Decimal(value)


def _quantity_total(derivation: dict) -> tuple[Decimal | None, Decimal | None]:
    comps = derivation.get("componentes", [])
    if len(comps) != 1:
        return None, None
    c = comps[0]
    own = _exact_decimal(c["cantidad"]) + _exact_decimal(c.get("cantidad_vacancia") or "0")
    return to_quantity(own), to_quantity(_exact_decimal(c["total"]))


def statement_line(line: AllocationLine, item: CostItem | None) -> StatementLine:
    d = line.derivation or {}
    share = Fraction(line.share)
    if line.kind == "ajuste":
        fixes = d.get("corrige") or {}
        ref = " · ".join(str(v) for k, v in fixes.items() if k in ("periodo",))
        reason = d.get("motivo") or ""
        ref = f"{ref} · {line.description}" if ref else line.description
        if reason:
            ref = f"{ref} ({reason})"
        quantity, total = _quantity_total(d)
        return StatementLine(
            kind=KIND_AJUSTE, category="ajuste", category_label=ADJUSTMENT_CATEGORY_LABEL, item=line.description,
            key=_key(d), quantity=quantity, total_quantity=total, percentage=to_percentage(share),
            item_amount=line.item_amount, amount=line.amount, exact=str(d.get("monto_exacto", "")),
            rounding=line.rounding, extra_cent=line.extra_cent, steps=_steps(d), adjustment_ref=ref)
    quantity, total = _quantity_total(d)
    return StatementLine(
        kind=KIND_REPARTO, category=line.category, category_label=CATEGORY_LABELS.get(line.category, line.category),
        item=line.description, key=_key(d), quantity=quantity, total_quantity=total, percentage=to_percentage(share),
        item_amount=line.item_amount, amount=line.amount, exact=str(d.get("monto_exacto", "")),
        rounding=line.rounding, extra_cent=line.extra_cent, steps=_steps(d),
        document_ref=item.document_ref if item is not None else "")


def _fee_line(s: Session, period: CostPeriod, entity_id: uuid.UUID) -> StatementLine | None:
    """The monthly fee for use of premises set in the entity's adhesion to this centre (a separate charge from
    the common costs), prorated by the days the adhesion was in force in the period, half up to the céntimo."""
    try:
        from app.adhesion.models import Adhesion
        from app.adhesion.states import IN_FORCE
    except ImportError:  # the adhesion domain is not installed
        return None
    adhesion = s.scalar(select(Adhesion).where(
        Adhesion.entity_id == entity_id, Adhesion.centre_id == period.centre_id, Adhesion.state.in_(IN_FORCE),
        Adhesion.monthly_fee > 0,
        or_(Adhesion.start_date.is_(None), Adhesion.start_date <= period.ends_on),
        or_(Adhesion.end_date.is_(None), Adhesion.end_date >= period.starts_on)).order_by(Adhesion.created_at.desc())
        .limit(1))
    if adhesion is None:
        return None
    return fee_line(adhesion.monthly_fee, adhesion.start_date, adhesion.end_date, period.starts_on, period.ends_on,
                    adhesion.document_code or adhesion.draft_code)


def fee_line(monthly_fee: Decimal, active_from: date | None, active_to: date | None, period_start: date,
             period_end: date, clause: str) -> StatementLine:
    """The fee line: the monthly fee × the days the adhesion was in force ÷ the period's days, half up to the
    céntimo (a whole month pays exactly the fee)."""
    start = max(active_from or period_start, period_start)
    end = min(active_to or period_end, period_end)
    days, period_days = max((end - start).days + 1, 0), (period_end - period_start).days + 1
    exact = Fraction(int(monthly_fee * 100) * days, period_days * 100)
    exact_decimal = Decimal(exact.numerator) / Decimal(exact.denominator)
    amount = exact_decimal.quantize(Decimal("0.01"), ROUND_HALF_UP)
    step = DerivationStep(key="días de vigencia", weight="1", driver=format(monthly_fee, "f"),
                          days=f"{days} de {period_days}", quantity=str(days), total=str(period_days),
                          fraction=str(Fraction(days, period_days)))
    return StatementLine(
        kind=KIND_TARIFA, category="tarifa", category_label=FEE_CATEGORY_LABEL,
        item=f"Tarifa mensual por uso del local (cláusula {clause})",
        key="cláusula de adhesión" + ("" if days == period_days else ", prorrateada por días"),
        quantity=Decimal(days), total_quantity=Decimal(period_days),
        percentage=to_percentage(Fraction(days, period_days)), item_amount=monthly_fee, amount=amount,
        exact=format(exact_decimal, ".10f"), rounding=amount - exact_decimal, steps=(step,))


def _category_order(line: StatementLine) -> tuple:
    order = {c: i for i, c in enumerate(CATEGORIES)}
    return ({KIND_REPARTO: 0, KIND_AJUSTE: 1, KIND_TARIFA: 2}[line.kind], order.get(line.category, 99))


def statement_data(s: Session, st: Statement, settings: Settings) -> StatementData:
    """The adapter: a statement's data from cost sharing's stored results."""
    period = s.get(CostPeriod, st.period_id)
    centre = s.get(Centre, st.centre_id)
    entity = s.get(Entity, st.entity_id)
    admin = s.get(Entity, centre.administering_entity_id)
    rows = s.scalars(current_lines_query(period.id, entity.id).order_by(
        AllocationLine.kind.desc(), AllocationLine.category, AllocationLine.description, AllocationLine.id)).all()
    if not rows:
        raise StatementError(f"La entidad {entity.name} no tiene líneas de reparto en el periodo.")
    items = {i.id: i for i in s.scalars(select(CostItem).where(CostItem.period_id == period.id)).all()}
    lines = [statement_line(ln, items.get(ln.cost_item_id)) for ln in rows]
    fee = _fee_line(s, period, entity.id)
    if fee is not None:
        lines.append(fee)
    lines.sort(key=_category_order)  # stable: keeps the order within a category
    version_label = period.methodology_version or next(
        (ln.derivation.get("metodologia") for ln in rows if ln.derivation.get("metodologia")), "")
    methodology = s.scalar(select(CostMethodology).where(CostMethodology.version == version_label)) \
        if version_label else None
    history = s.execute(
        select(Statement.period_start, Statement.total).where(
            Statement.entity_id == entity.id, Statement.centre_id == centre.id, Statement.is_current,
            Statement.state == "generado", Statement.period_start < period.starts_on,
            Statement.period_start >= date(period.starts_on.year - 1, period.starts_on.month, 1))
        .order_by(Statement.period_start)).all()
    replaces = None
    if st.replaces_id:
        old = s.get(Statement, st.replaces_id)
        replaces = Replacement(old.number, st.replacement_reason or "")
    data = StatementData(
        number=st.number, version=st.version, issued_on=st.issued_on or datetime.now(LIMA).date(),
        status=st.status, centre_name=centre.name, administering=Party(admin.name, admin.ruc),
        participant=Party(entity.name, entity.ruc), period_start=period.starts_on, period_end=period.ends_on,
        methodology_version=version_label or "—", methodology_title=methodology.title if methodology else "",
        vacancy_policy=VACANCY_LABELS.get(methodology.vacancy_policy, "") if methodology else "",
        rounding_rule=ROUNDING_LABELS.get(methodology.rounding if methodology else "largest_remainder", ""),
        lines=tuple(lines), verification_code=st.verification_code,
        verification_url=verification_url(settings, st.verification_code), replaces=replaces,
        demo=bool(entity.is_demo or centre.is_demo))
    this_month = MonthShare(period.starts_on, totals(data.lines).total)
    return StatementData(**{**data.__dict__, "history": (*(MonthShare(p, t) for p, t in history), this_month),
                            "account": account_section(s, st, centre, entity, totals(data.lines).total)})


def account_section(s: Session, st: Statement, centre: Centre, entity: Entity, total: Decimal):  # noqa: ANN201
    """The account as this statement shows it, at its issue date, by the balance rules (None when the stored
    data cannot be balanced, e.g. a negative total: the statement is still issued, without the section)."""
    from app.billing_reports import ledger
    from app.billing_reports.balances import BalanceInputError, StatementIn, statement_account
    from app.billing_reports.statement import AccountSection

    if st.issued_on is None or st.due_on is None:
        return None
    led = ledger.load_sync(s, as_of=st.issued_on, centre_id=centre.id, entity_id=entity.id)
    replaces = s.scalar(select(Statement.number).where(Statement.id == st.replaces_id)) if st.replaces_id else None
    this = StatementIn(st.number, entity.ruc, centre.code, periodo_code(st.period_start), st.issued_on, st.due_on,
                       total, replaces if replaces in led.statement_rows else None)
    try:
        a = statement_account(st.number, [*(x for x in led.statements if x.id != st.number), this], led.payments)
    except BalanceInputError as exc:
        log.warning("Estado de cuenta %s sin sección de cuenta: %s", st.number, exc.message)
        return None
    return AccountSection(a.previous_balance, a.payments_since_last, a.charges, a.other_charges, a.balance_due,
                          a.due_on)


# ---------------------------------------------------------------------------------------------- sealing ---


@dataclass(frozen=True)
class Sealed:
    pdf: bytes
    signer: str
    level: str


def _run(coro):  # noqa: ANN001, ANN202
    """Run a coroutine to completion from synchronous code, even when called from inside an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


_fast_identities: dict[int, object] = {}


def fast_sealing_identity(identity):  # noqa: ANN001, ANN202
    """The sealing identity with a signer that parses its private key once per process.

    pyHanko's ``SimpleSigner.sign_raw`` re-loads the DER key (with OpenSSL's RSA consistency check, about
    0.15 s for a 2048-bit key) on every call, and signs twice per document (a dry run sizes the signature):
    that was ~80 % of the time of a statement. The cached key signs the same bytes the same way (PKCS#1 v1.5
    and PSS with RSA, ECDSA); any other mechanism goes through pyHanko unchanged."""
    import copy
    import dataclasses

    from cryptography.hazmat.primitives import serialization
    from pyhanko.sign.general import get_pyca_cryptography_hash
    from pyhanko.sign.signers.pdf_cms import SimpleSigner

    cached = _fast_identities.get(id(identity))
    if cached is not None:
        return cached
    base = identity.signer
    if type(base) is not SimpleSigner:
        return identity
    key = serialization.load_der_private_key(base.signing_key.dump(), password=None)

    class _CachedKeySigner(SimpleSigner):
        def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
            from cryptography.hazmat.primitives.asymmetric.ec import ECDSA, EllipticCurvePrivateKey
            from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
            from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

            mechanism = self.get_signature_mechanism_for_digest(digest_algorithm).signature_algo
            if mechanism == "rsassa_pkcs1v15" and isinstance(key, RSAPrivateKey):
                return key.sign(data, PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))
            if mechanism == "ecdsa" and isinstance(key, EllipticCurvePrivateKey):
                return key.sign(data, ECDSA(get_pyca_cryptography_hash(digest_algorithm)))
            return super().sign_raw(data, digest_algorithm)

    signer = copy.copy(base)
    signer.__class__ = _CachedKeySigner
    fast = dataclasses.replace(identity, signer=signer)
    _fast_identities[id(identity)] = fast
    return fast


SIGNATURE_BYTES_RESERVED = 16_384  # room for the CMS container (certificate chain and, with a TSA, the token)


def seal_pdf(pdf: bytes, data: StatementData, settings: Settings) -> Sealed:
    """A PAdES signature (ETSI.CAdES.detached) with the platform's sealing identity from
    :mod:`app.documents.signing`, invisible on the page (the footer of every page already says the document is
    sealed and how to verify it), with the field added in the same incremental update as the signature and the
    space for the signature reserved up front, so pyHanko signs once instead of twice."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.fields import SigSeedSubFilter

    from app.documents import signing

    identity = fast_sealing_identity(signing.sealing_identity(settings))
    timestamper = signing.timestamper_for(settings.tsa_url)
    level = signing.effective_level(settings.sealing_level, timestamper)
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    fields.append_signature_field(writer, fields.SigFieldSpec(sig_field_name=SEAL_FIELD))
    meta = signers.PdfSignatureMetadata(
        field_name=SEAL_FIELD, md_algorithm="sha256", subfilter=SigSeedSubFilter.PADES, name="Plataforma MAC",
        reason=f"Estado de cuenta {data.number} ({data.period_label}, RUC {data.participant.ruc})",
        location="Plataforma MAC", **signing.long_term_options(identity, level))
    pdf_signer = signers.PdfSigner(meta, identity.signer, timestamper=timestamper)
    out = _run(signing.sign_with_seal(
        pdf_signer, writer, bytes_reserved=None if timestamper else SIGNATURE_BYTES_RESERVED))
    signed = out.getvalue()
    if not signed.startswith(pdf):  # an incremental update never rewrites the original; guard it anyway
        raise RuntimeError("El sello alteró el documento original")
    # Read back from the file (B-T, B-LT or B-LTA as pyHanko produced it); without a TSA it can only be B-B.
    return Sealed(signed, identity.label,
                  signing.level_of_field(signed, SEAL_FIELD) if timestamper else signing.level_of(timestamped=False))


# ------------------------------------------------------------------------------------------- generating ---


@dataclass(frozen=True)
class Documents:
    data: StatementData
    pdf: bytes
    csv: bytes
    xlsx: bytes
    signer: str
    level: str


def render_documents(data: StatementData, settings: Settings) -> Documents:
    sealed = seal_pdf(render_statement(data), data, settings)
    return Documents(data, sealed.pdf, exports.to_csv([data]), exports.to_xlsx([data]), sealed.signer, sealed.level)


def file_name(data: StatementData, fmt: str) -> str:
    return f"estado-de-cuenta-{data.period_code}-{data.participant.ruc}-v{data.version}.{fmt}"


def generate_statement(s: Session, statement_id: uuid.UUID, settings: Settings) -> bool:
    """Generate the statement if it is not generated yet; True when it was generated now.

    The row is locked first, so two deliveries of the same message serialise and the second finds it done.
    A failure is recorded on the statement and its batch items (with the reason) instead of being raised, so
    the coordinator sees it and can retry; errors of the database itself are raised (dramatiq retries).
    """
    st = s.scalar(select(Statement).where(Statement.id == statement_id).with_for_update())
    if st is None:
        return False
    if st.state == "generado":
        _finish_items(s, st, "generado", None)
        return False
    st.attempts += 1
    try:
        with s.begin_nested():
            if st.issued_on is None:
                st.issued_on = datetime.now(LIMA).date()
            if st.due_on is None:
                st.due_on = st.issued_on + timedelta(days=due_days(s, st.centre_id))
            data = statement_data(s, st, settings)
            docs = render_documents(data, settings)
            for fmt, content in (("pdf", docs.pdf), ("csv", docs.csv), ("xlsx", docs.xlsx)):
                s.add(StatementFile(statement_id=st.id, centre_id=st.centre_id, entity_id=st.entity_id, format=fmt,
                                    filename=file_name(data, fmt), media_type=MEDIA_TYPES[fmt],
                                    sha256=hashlib.sha256(content).hexdigest(), size=len(content), content=content))
            t = totals(data.lines)
            document = to_json(data)
            st.common_costs, st.fee, st.adjustments, st.total = t.common_costs, t.fee, t.adjustments, t.total
            st.data, st.data_hash = document, canonical_hash(document)
            st.signer, st.signature_level = docs.signer, docs.level
            st.state, st.generated_at, st.last_error = "generado", datetime.now(UTC), None
            s.flush()
            _register_document(s, st, data, docs)
    except Exception as exc:  # noqa: BLE001 - recorded with its reason, shown to the coordinator
        if not isinstance(exc, DomainError | ValueError | KeyError | TypeError | ArithmeticError | RuntimeError):
            raise
        reason = exc.message if isinstance(exc, DomainError) else f"{type(exc).__name__}: {exc}"
        log.warning("Estado de cuenta %s no generado: %s", st.number, reason)
        st.state, st.last_error = "fallido", reason[:2000]
        _finish_items(s, st, "fallido", reason[:2000])
        return False
    _finish_items(s, st, "generado", None)
    return True


def _finish_items(s: Session, st: Statement, state: str, error: str | None) -> None:
    now = datetime.now(UTC)
    batch_ids = s.scalars(
        update(StatementBatchItem).where(StatementBatchItem.statement_id == st.id,
                                         StatementBatchItem.state != "generado")
        .values(state=state, error=error, attempts=StatementBatchItem.attempts + 1, finished_at=now)
        .returning(StatementBatchItem.batch_id)).all()
    for batch_id in set(batch_ids):
        refresh_batch(s, batch_id)


def refresh_batch(s: Session, batch_id: uuid.UUID) -> None:
    """The batch's state from its items: en curso while any is pending; then completado or con fallos.

    The batch row is locked first: two workers finishing the batch's last two items at once would otherwise
    each count the other's item as still pending (neither sees the other's uncommitted update) and leave the
    batch en curso for ever. Locked, the second one counts after the first commits."""
    s.execute(select(StatementBatch.id).where(StatementBatch.id == batch_id).with_for_update())
    counts = dict(s.execute(select(StatementBatchItem.state, func.count()).where(
        StatementBatchItem.batch_id == batch_id).group_by(StatementBatchItem.state)).all())
    if counts.get("pendiente"):
        state, finished = "en_curso", None
    else:
        state, finished = ("con_fallos" if counts.get("fallido") else "completado"), datetime.now(UTC)
    s.execute(update(StatementBatch).where(StatementBatch.id == batch_id, StatementBatch.state != state)
              .values(state=state, finished_at=finished))


def _register_document(s: Session, st: Statement, data: StatementData, docs: Documents) -> None:
    """Put the statement under its verification code in the platform's document registry (the public page
    /verificar/{code} reads it), when that registry is installed."""
    try:
        from app.documents.models import DocumentRevision, RegisteredDocument
    except ImportError:
        return
    exists = s.scalar(select(RegisteredDocument.id).where(RegisteredDocument.code == st.verification_code))
    if exists is not None:
        return
    state_label = {"preliminar": "Preliminar (periodo publicado)", "definitivo": "Definitivo (periodo cerrado)"}
    doc = RegisteredDocument(
        code=st.verification_code, kind="estado_de_cuenta", title=f"Estado de cuenta {st.number}",
        subject_type="estado_de_cuenta", subject_id=st.id, subject_state=st.status,
        subject_state_label=state_label[st.status], entity_id=st.entity_id,
        counterpart_entity_id=st.administering_entity_id, is_demo=data.demo)
    s.add(doc)
    s.flush()
    s.add(DocumentRevision(document_id=doc.id, entity_id=st.entity_id, number=0, kind="sello_plataforma",
                           label=f"Estado de cuenta {st.number}, sellado por la plataforma",
                           sha256=hashlib.sha256(docs.pdf).hexdigest(), size=len(docs.pdf), signer=docs.signer,
                           signed_at=datetime.now(UTC), level=docs.level, content=docs.pdf))
    if st.replaces_id:
        old_code = s.scalar(select(Statement.verification_code).where(Statement.id == st.replaces_id))
        s.execute(text("UPDATE registered_documents SET superseded_by = :new, subject_state = 'reemplazado',"
                       " subject_state_label = 'Reemplazado por una versión corregida' WHERE code = :old"),
                  {"new": st.verification_code, "old": old_code})
