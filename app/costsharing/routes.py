"""Cost sharing pages (Spanish UI). Thin: parse, authorise (guards; RLS and the services decide the rest), call a
service, render."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.plugins.flash import flash
from litestar.response import Redirect

from app.localtime import today_lima
from app.auth.actor import get_actor, request_context
from app.auth.guards import requires_role
from app.costsharing import methodology as msvc
from app.costsharing import periods as pm
from app.costsharing import services as svc
from app.costsharing.allocation import KEY_LABELS, KEYS, VACANCY_LABELS
from app.costsharing.models import CATEGORIES, CATEGORY_LABELS
from app.db import ROLE_ADMIN, ROLE_COORDINADOR, ROLE_FINANZAS, ROLE_GESTOR, ROLE_SUPERVISOR_SGP
from app.errors import DomainError, ValidationFailed
from app.web.forms import Form
from app.web.page import Page

Multipart = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
VIEWERS = (ROLE_GESTOR, ROLE_FINANZAS, ROLE_COORDINADOR, ROLE_SUPERVISOR_SGP, ROLE_ADMIN)
COORDINATOR = (ROLE_COORDINADOR,)
PARTICIPANT = (ROLE_GESTOR, ROLE_FINANZAS)
SGP = (ROLE_SUPERVISOR_SGP,)


def ctx_of(request: Request):  # noqa: ANN201
    return request_context(request)


async def upload(value: Any) -> tuple[str, str, bytes] | None:
    if isinstance(value, UploadFile) and value.filename:
        content = await value.read()
        return (value.filename, value.content_type, content) if content else None
    return None


def back(period_id: uuid.UUID, anchor: str = "") -> Redirect:
    return Redirect(f"/costos/periodos/{period_id}{anchor}")


async def attempt(request: Request, period_id: uuid.UUID, action, success: str, anchor: str = "") -> Redirect:  # noqa: ANN001
    """Run a service; a domain error becomes a flash message on the period's page."""
    try:
        await action()
    except DomainError as exc:
        if exc.status_code in (403, 404):
            raise
        flash(request, exc.message, "error")
    else:
        flash(request, success, "exito")
    return back(period_id, anchor)


# ------------------------------------------------------------------------------------------ charts ---


@dataclass(frozen=True)
class Bar:
    label: str
    amount: Decimal
    percent: Decimal  # of the chart's total
    width: Decimal  # of the widest bar, 0–100

    @property
    def px(self) -> Decimal:
        """Length in the chart's 260-unit drawing area."""
        return (self.width * Decimal("2.6")).quantize(Decimal("0.1"))


def bars(data: dict[str, Decimal] | list[tuple[str, Decimal]]) -> list[Bar]:
    pairs = list(data.items()) if isinstance(data, dict) else list(data)
    total = sum((abs(v) for _, v in pairs), Decimal(0))
    widest = max((abs(v) for _, v in pairs), default=Decimal(0))
    return [Bar(label, amount, (abs(amount) * 100 / total).quantize(Decimal("0.1")) if total else Decimal(0),
                (abs(amount) * 100 / widest).quantize(Decimal("0.1")) if widest else Decimal(0))
            for label, amount in pairs]


def parse_rule_text(text: str) -> dict[str, Any]:
    """«area_m2=0.5; attentions=0.5» or «fixed: 20131312955=40; 20295613620=60»."""
    text = (text or "").strip()
    fixed = text.lower().startswith("fixed")
    body = text.split(":", 1)[1] if fixed and ":" in text else text
    pairs: dict[str, str] = {}
    for part in body.replace(",", ";").split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep:
            raise ValidationFailed(f"«{part.strip()}»: escriba clave=peso (p. ej. area_m2=0.5).", field="reglas")
        pairs[key.strip()] = value.strip()
    return {"fixed": pairs} if fixed else pairs


def rule_text(rule: dict[str, Any]) -> str:
    if "fixed" in rule:
        return "fixed: " + "; ".join(f"{k}={v}" for k, v in rule["fixed"].items())
    return "; ".join(f"{k}={v}" for k, v in rule.items())


COMMON = {"months": pm.MONTHS, "category_labels": CATEGORY_LABELS, "categories": CATEGORIES, "state_labels": pm.STATE_LABELS,
          "period_label": pm.period_label, "key_labels": KEY_LABELS, "vacancy_labels": VACANCY_LABELS}


class CostSharingController(Controller):
    path = "/costos"
    include_in_schema = False

    # ------------------------------------------------------------------------------------- periods ---

    @get("/", guards=[requires_role(*VIEWERS)])
    async def index(self, request: Request) -> Page:
        ctx = ctx_of(request)
        periods = await svc.list_periods(ctx)
        centres = await svc.administered_centres(ctx)
        today = today_lima()
        return Page("costsharing/index.html", context={**COMMON, "periods": periods, "centres": centres,
                                                       "this_year": today.year, "this_month": today.month})

    @post("/periodos", guards=[requires_role(*COORDINATOR)])
    async def open_period(self, request: Request, data: Form) -> Redirect:
        try:
            period = await svc.open_period(ctx_of(request), uuid.UUID(str(data.get("centro"))),
                                           int(data.get("anio") or 0), int(data.get("mes") or 0),
                                           int(data.get("plazo") or pm.DEFAULT_OBSERVATION_DAYS))
        except (ValueError, TypeError):
            flash(request, "Elija el centro, el mes y el año.", "error")
            return Redirect("/costos")
        except DomainError as exc:
            if exc.status_code in (403, 404):
                raise
            flash(request, exc.message, "error")
            return Redirect("/costos")
        flash(request, f"Periodo {pm.period_label(period.starts_on)} abierto en borrador.", "exito")
        return back(period.id)

    @get("/periodos/{period_id:uuid}", guards=[requires_role(*VIEWERS)])
    async def period(self, request: Request, period_id: FromPath[uuid.UUID]) -> Page:
        ctx = ctx_of(request)
        detail = await svc.get_period_detail(ctx, period_id)
        view = await svc.get_allocation(ctx, period_id)
        actor = get_actor(request)
        own_ruc = None
        charts: dict[str, list[Bar]] = {"pool": bars({CATEGORY_LABELS[c]: v for c, v in view.pool_by_category.items()})}
        if actor.role in PARTICIPANT:
            mine = [ln for ln in view.lines if ln.entity_id == actor.entity_id]
            own_ruc = mine[0].ruc if mine else None
            own_total = sum((ln.amount for ln in mine if ln.kind == "reparto"), Decimal(0))
            charts["entities"] = bars([(actor.entity_name or "Mi entidad", own_total),
                                       ("Resto del centro", view.pool_total - own_total)])
            charts["mine"] = bars({CATEGORY_LABELS[c]: v for c, v in view.totals_by_category(own_ruc).items()})
        else:
            charts["entities"] = bars([(f"{name}", total) for _, (name, total) in view.totals_by_entity().items()])
        entities = await svc.entity_choices(ctx) if actor.role == ROLE_COORDINADOR else []
        return Page("costsharing/period.html", context={
            **COMMON, "d": detail, "view": view, "charts": charts, "is_coordinator": actor.role == ROLE_COORDINADOR
            and detail.centre.administering_entity_id == actor.entity_id,
            "is_participant": actor.role in PARTICIPANT, "entities": entities, "today": svc.today_lima(),
            "editable": detail.period.state in pm.EDITABLE})

    @post("/periodos/{period_id:uuid}/costos", guards=[requires_role(*COORDINATOR)])
    async def add_item(self, request: Request, period_id: FromPath[uuid.UUID], data: Multipart) -> Redirect:
        item = svc.ItemInput(str(data.get("categoria") or ""), str(data.get("descripcion") or ""),
                             data.get("monto"), str(data.get("referencia") or ""),
                             str(data.get("tipo") or "real") == "estimado", await upload(data.get("sustento")))
        return await attempt(request, period_id, lambda: svc.add_item(ctx_of(request), period_id, item),
                             "Costo registrado.", "#costos")

    @post("/periodos/{period_id:uuid}/importar", guards=[requires_role(*COORDINATOR)])
    async def import_items(self, request: Request, period_id: FromPath[uuid.UUID], data: Multipart) -> Page | Redirect:
        file = await upload(data.get("archivo"))
        if file is None:
            flash(request, "Elija un archivo .csv o .xlsx.", "error")
            return back(period_id, "#costos")
        try:
            report = await svc.import_items(ctx_of(request), period_id, file[0], file[2])
        except ValidationFailed as exc:  # the file itself (format, size, rows): said on the result page, 422
            return Page("costsharing/import_report.html", status_code=exc.status_code,
                        context={"report": None, "error": exc.message, "period_id": period_id, "filename": file[0]})
        except DomainError as exc:
            if exc.status_code in (403, 404):
                raise
            flash(request, exc.message, "error")
            return back(period_id, "#costos")
        return Page("costsharing/import_report.html", context={"report": report, "period_id": period_id,
                                                               "filename": file[0]})

    @post("/costos/{item_id:uuid}/eliminar", guards=[requires_role(*COORDINATOR)])
    async def delete_item(self, request: Request, item_id: FromPath[uuid.UUID], data: Form) -> Redirect:
        period_id = uuid.UUID(str(data.get("periodo"))) if data.get("periodo") else None
        await _or_flash(request, svc.delete_item(ctx_of(request), item_id), "Costo eliminado.")
        return back(period_id, "#costos") if period_id else Redirect("/costos")

    @post("/costos/{item_id:uuid}/categoria", guards=[requires_role(*COORDINATOR)])
    async def recategorise(self, request: Request, item_id: FromPath[uuid.UUID], data: Form) -> Redirect:
        period_id = uuid.UUID(str(data.get("periodo"))) if data.get("periodo") else None
        await _or_flash(request, svc.update_item_category(ctx_of(request), item_id, str(data.get("categoria") or "")),
                        "Categoría cambiada: vuelva a calcular.")
        return back(period_id, "#costos") if period_id else Redirect("/costos")

    @post("/costos/{item_id:uuid}/real", guards=[requires_role(*COORDINATOR)])
    async def replace_estimate(self, request: Request, item_id: FromPath[uuid.UUID], data: Form) -> Redirect:
        period_id = uuid.UUID(str(data.get("periodo"))) if data.get("periodo") else None
        try:
            target = uuid.UUID(str(data.get("destino")))
        except ValueError:
            flash(request, "Elija el periodo abierto que llevará el ajuste.", "error")
            return back(period_id) if period_id else Redirect("/costos")
        await _or_flash(request, svc.replace_estimate(ctx_of(request), item_id, target, data.get("monto_real"),
                                                      str(data.get("motivo") or "")),
                        "Ajuste registrado en el periodo de destino.")
        return back(period_id) if period_id else Redirect("/costos")

    @get("/costos/{item_id:uuid}/sustento", guards=[requires_role(*VIEWERS)])
    async def item_attachment(self, request: Request, item_id: FromPath[uuid.UUID]) -> Response:
        name, content_type, content = await svc.item_attachment(ctx_of(request), item_id)
        return _download(name, content_type, content)

    @post("/periodos/{period_id:uuid}/participantes", guards=[requires_role(*COORDINATOR)])
    async def record_participant(self, request: Request, period_id: FromPath[uuid.UUID], data: Form) -> Redirect:
        entry = svc.ParticipantInput(str(data.get("ruc") or ""), data.get("desde"), data.get("hasta") or None,
                                     data.get("area_m2") or 0, data.get("modulos") or 0, data.get("asesores") or 0,
                                     data.get("atenciones") or 0)
        return await attempt(request, period_id, lambda: svc.record_participant(ctx_of(request), period_id, entry),
                             "Participante y valores registrados.", "#participantes")

    @post("/participantes/{participant_id:uuid}/retirar", guards=[requires_role(*COORDINATOR)])
    async def remove_participant(self, request: Request, participant_id: FromPath[uuid.UUID], data: Form) -> Redirect:
        period_id = uuid.UUID(str(data.get("periodo"))) if data.get("periodo") else None
        await _or_flash(request, svc.remove_participant(ctx_of(request), participant_id), "Participante retirado.")
        return back(period_id, "#participantes") if period_id else Redirect("/costos")

    @post("/periodos/{period_id:uuid}/precargar", guards=[requires_role(*COORDINATOR)])
    async def prefill(self, request: Request, period_id: FromPath[uuid.UUID]) -> Redirect:
        try:
            notes = await svc.prefill_participants(ctx_of(request), period_id)
        except DomainError as exc:
            if exc.status_code in (403, 404):
                raise
            flash(request, exc.message, "error")
        else:
            flash(request, " ".join(notes), "exito")
        return back(period_id, "#participantes")

    @post("/periodos/{period_id:uuid}/vacancia", guards=[requires_role(*COORDINATOR)])
    async def vacancy(self, request: Request, period_id: FromPath[uuid.UUID], data: Form) -> Redirect:
        return await attempt(request, period_id, lambda: svc.set_vacancy(
            ctx_of(request), period_id, area_m2=data.get("area_m2") or 0, modules=data.get("modulos") or 0,
            advisors=data.get("asesores") or 0), "Vacancia registrada.", "#participantes")

    @post("/periodos/{period_id:uuid}/calcular", guards=[requires_role(*COORDINATOR)])
    async def compute(self, request: Request, period_id: FromPath[uuid.UUID]) -> Redirect:
        return await attempt(request, period_id, lambda: svc.compute_period(ctx_of(request), period_id),
                             "Reparto calculado. Revise el detalle antes de publicar.", "#reparto")

    @post("/periodos/{period_id:uuid}/publicar", guards=[requires_role(*COORDINATOR)])
    async def publish(self, request: Request, period_id: FromPath[uuid.UUID]) -> Redirect:
        return await attempt(request, period_id, lambda: svc.publish_period(ctx_of(request), period_id),
                             "Periodo publicado: las entidades ya ven su parte y pueden observarla.")

    @post("/periodos/{period_id:uuid}/cerrar", guards=[requires_role(*COORDINATOR)])
    async def close(self, request: Request, period_id: FromPath[uuid.UUID], data: Form) -> Redirect:
        early = str(data.get("anticipado") or "") in ("1", "on", "si")
        return await attempt(request, period_id, lambda: svc.close_period(ctx_of(request), period_id, early=early),
                             "Periodo cerrado: ya no se modifica.")

    @post("/periodos/{period_id:uuid}/verificar", guards=[requires_role(ROLE_COORDINADOR, ROLE_SUPERVISOR_SGP)])
    async def verify(self, request: Request, period_id: FromPath[uuid.UUID]) -> Redirect:
        same, stored, recomputed = await svc.verify_computation(ctx_of(request), period_id)
        if same:
            flash(request, f"Recalculado desde las entradas guardadas: mismo resultado (hash {stored[:16]}…).", "exito")
        else:
            flash(request, f"¡El recálculo difiere! Guardado {stored[:16]}…, recalculado {recomputed[:16]}….", "error")
        return back(period_id, "#reparto")

    # -------------------------------------------------------------------------------- observations ---

    @post("/periodos/{period_id:uuid}/observaciones", guards=[requires_role(*PARTICIPANT)])
    async def file_observation(self, request: Request, period_id: FromPath[uuid.UUID], data: Multipart) -> Redirect:
        text, attachment = str(data.get("texto") or ""), await upload(data.get("adjunto"))
        return await attempt(request, period_id,
                             lambda: svc.file_observation(ctx_of(request), period_id, text, attachment),
                             "Observación presentada. La entidad administradora le responderá.", "#observaciones")

    @post("/observaciones/{observation_id:uuid}/responder", guards=[requires_role(*COORDINATOR)])
    async def answer(self, request: Request, observation_id: FromPath[uuid.UUID], data: Form) -> Redirect:
        period_id = uuid.UUID(str(data.get("periodo"))) if data.get("periodo") else None
        await _or_flash(request, svc.answer_observation(ctx_of(request), observation_id, str(data.get("respuesta") or ""),
                                                        accept=str(data.get("decision")) == "aceptada"),
                        "Respuesta registrada.")
        return back(period_id, "#observaciones") if period_id else Redirect("/costos")

    @post("/observaciones/{observation_id:uuid}/ajuste", guards=[requires_role(*COORDINATOR)])
    async def observation_adjustment(self, request: Request, observation_id: FromPath[uuid.UUID],
                                     data: Form) -> Redirect:
        period_id = uuid.UUID(str(data.get("periodo"))) if data.get("periodo") else None
        try:
            target = uuid.UUID(str(data.get("destino")))
        except ValueError:
            flash(request, "Elija el periodo abierto que llevará el ajuste.", "error")
            return back(period_id) if period_id else Redirect("/costos")
        await _or_flash(request, svc.adjust_for_observation(ctx_of(request), observation_id, target,
                                                            data.get("monto"), str(data.get("motivo") or "")),
                        "Ajuste registrado en el periodo de destino.")
        return back(period_id, "#observaciones") if period_id else Redirect("/costos")

    @get("/observaciones/{observation_id:uuid}/adjunto", guards=[requires_role(*VIEWERS)])
    async def observation_attachment(self, request: Request, observation_id: FromPath[uuid.UUID]) -> Response:
        name, content_type, content = await svc.observation_attachment(ctx_of(request), observation_id)
        return _download(name, content_type, content)

    # ------------------------------------------------------------------------------- methodologies ---

    @get("/metodologias", guards=[requires_role(*VIEWERS)])
    async def methodologies(self, request: Request) -> Page:
        items = await msvc.list_methodologies(ctx_of(request))
        base = next((m for m in items if m.state == "aprobada"), None)
        return Page("costsharing/methodologies.html", context={
            **COMMON, "items": items, "keys": KEYS, "describe": msvc.describe_rule, "rule_text": rule_text,
            "defaults": base.rules if base else {c: {"equal": "1"} for c in CATEGORIES},
            "can_edit": get_actor(request).role == ROLE_SUPERVISOR_SGP})

    @post("/metodologias", guards=[requires_role(*SGP)])
    async def create_methodology(self, request: Request, data: Form) -> Redirect:
        try:
            rules = {c: parse_rule_text(str(data.get(f"regla_{c}") or "")) for c in CATEGORIES}
            m = await msvc.create_methodology(ctx_of(request), version=str(data.get("version") or ""),
                                              title=str(data.get("titulo") or ""),
                                              criteria=str(data.get("criterios") or ""), rules=rules,
                                              vacancy_policy=str(data.get("vacancia") or ""))
        except DomainError as exc:
            if exc.status_code in (403, 404):
                raise
            flash(request, exc.message, "error")
            return Redirect("/costos/metodologias")
        flash(request, f"Versión {m.version} guardada como borrador.", "exito")
        return Redirect(f"/costos/metodologias/{m.id}")

    @get("/metodologias/{methodology_id:uuid}", guards=[requires_role(*VIEWERS)])
    async def methodology(self, request: Request, methodology_id: FromPath[uuid.UUID]) -> Page:
        m = await msvc.get_methodology(ctx_of(request), methodology_id)
        others = [o for o in await msvc.list_methodologies(ctx_of(request)) if o.id != m.id]
        return Page("costsharing/methodology.html", context={
            **COMMON, "m": m, "others": others, "describe": msvc.describe_rule,
            "can_approve": get_actor(request).role == ROLE_SUPERVISOR_SGP and m.state == "borrador"})

    @post("/metodologias/{methodology_id:uuid}/aprobar", guards=[requires_role(*SGP)])
    async def approve(self, request: Request, methodology_id: FromPath[uuid.UUID], data: Form) -> Redirect:
        try:
            year, month = (int(x) for x in str(data.get("desde") or "").split("-")[:2])
            m = await msvc.approve_methodology(ctx_of(request), methodology_id, date(year, month, 1))
        except ValueError:
            flash(request, "Indique el periodo (mes) desde el que rige.", "error")
        except DomainError as exc:
            if exc.status_code in (403, 404):
                raise
            flash(request, exc.message, "error")
        else:
            flash(request, f"Versión {m.version} aprobada; rige desde {pm.period_label(m.effective_from)}.", "exito")
        return Redirect(f"/costos/metodologias/{methodology_id}")

    @get("/metodologias/comparar", guards=[requires_role(*VIEWERS)])
    async def compare(self, request: Request, a: FromQuery[uuid.UUID], b: FromQuery[uuid.UUID]) -> Page:
        comparison = await msvc.compare_methodologies(ctx_of(request), a, b)
        return Page("costsharing/compare.html", context={**COMMON, "c": comparison})


async def _or_flash(request: Request, awaitable, success: str) -> None:  # noqa: ANN001
    try:
        await awaitable
    except DomainError as exc:
        if exc.status_code in (403, 404):
            raise
        flash(request, exc.message, "error")
    else:
        flash(request, success, "exito")


def _download(name: str, content_type: str, content: bytes) -> Response:
    safe = "".join(ch for ch in name if ch.isalnum() or ch in "._- ") or "adjunto"
    return Response(content, media_type=content_type or "application/octet-stream",
                    headers={"Content-Disposition": f'attachment; filename="{safe}"', "Cache-Control": "no-store",
                             "X-Content-Type-Options": "nosniff"})


controllers = [CostSharingController]
