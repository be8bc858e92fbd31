"""REST API for cost sharing under /api/v1/costos: the stored allocation of a period, as the caller may see it
(RLS: a participant gets only its own lines). Errors are RFC 9457 problem+json."""

from __future__ import annotations

import uuid

from litestar import Controller, Request, get
from litestar.params import FromPath

from app.auth.guards import requires_role
from app.costsharing import services as svc
from app.costsharing.routes import VIEWERS, ctx_of
from app.costsharing.schemas import AllocationRead, LineRead, PeriodRead, UnallocatedRead


def period_read(view: svc.AllocationView) -> PeriodRead:
    p = view.period
    return PeriodRead(id=p.id, centro=view.centre.name, desde=p.starts_on, hasta=p.ends_on, estado=p.state,
                      metodologia=view.methodology_version, hash_entradas=view.input_hash,
                      observaciones_hasta=p.observations_until, total_costos=view.pool_total)


class CostSharingApi(Controller):
    path = "/api/v1/costos"
    tags = ["costos compartidos"]

    @get("/periodos", guards=[requires_role(*VIEWERS)], summary="Periodos visibles para quien consulta")
    async def list_periods(self, request: Request) -> list[PeriodRead]:
        return [PeriodRead(id=s.period.id, centro=s.centre_name, desde=s.period.starts_on, hasta=s.period.ends_on,
                           estado=s.period.state, metodologia=s.period.methodology_version,
                           hash_entradas=s.period.input_hash, observaciones_hasta=s.period.observations_until,
                           total_costos=s.total) for s in await svc.list_periods(ctx_of(request))]

    @get("/periodos/{period_id:uuid}/reparto", guards=[requires_role(*VIEWERS)],
         summary="Reparto de un periodo con la derivación de cada línea")
    async def allocation(self, request: Request, period_id: FromPath[uuid.UUID]) -> AllocationRead:
        view = await svc.get_allocation(ctx_of(request), period_id)
        return AllocationRead(
            periodo=period_read(view),
            lineas=[LineRead(tipo=ln.kind, ruc=ln.ruc, entidad=ln.entity_name, categoria=ln.category,
                             descripcion=ln.description, monto_item=ln.item_amount, monto=ln.amount,
                             participacion=f"{ln.share.numerator}/{ln.share.denominator}",
                             monto_exacto=f"{ln.exact.numerator}/{ln.exact.denominator}",
                             centimo_adicional=ln.extra_cent, derivacion=ln.derivation) for ln in view.lines],
            totales_por_entidad={ruc: total for ruc, (_, total) in view.totals_by_entity().items()},
            total_lineas=view.lines_total,
            no_distribuido=[UnallocatedRead(categoria=u.category, monto=u.amount, motivo=u.reason)
                            for u in view.unallocated])


controllers = [CostSharingApi]
