"""The sync history: one row per run of a centre's feed, whatever its origin (``kind``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app import audit, metrics
from app.db import TenantContext
from app.sla.sources.common import COUNT_KEYS
from app.sla.sources.models import RUN_KINDS, SyncRun
from app.tenants.models import Centre

MAX_STORED_REASONS = 2_000


@dataclass
class RunCounts:
    """What became of the rows a run read (each row counted once)."""

    leidos: int = 0
    importados: int = 0
    actualizados: int = 0
    sin_cambios: int = 0
    abiertos: int = 0
    cancelados: int = 0
    sin_mapeo: int = 0
    rechazados: int = 0
    reasons: list[dict] = field(default_factory=list)  # [{"fila", "campo", "motivo"}]
    unmapped_services: list[dict] = field(default_factory=list)  # [{"servicio", "nombre", "filas"}]
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in COUNT_KEYS}


async def record_run(session: AsyncSession, ctx: TenantContext, *, centre_id: uuid.UUID, kind: str, trigger: str,
                     started_at: datetime, finished_at: datetime, counts: RunCounts, error: str | None = None,
                     source_id: uuid.UUID | None = None, window_from: datetime | None = None,
                     filename: str | None = None) -> SyncRun:
    """Store one run's result (``kind``: novosga, detalle_atenciones) in the caller's transaction, audited.

    Any feed of a centre (a Novo SGA sync, an import of the national export) records its run through here."""
    if kind not in RUN_KINDS:
        raise ValueError(f"origen desconocido: {kind}")
    run = SyncRun(centre_id=centre_id, source_id=source_id, kind=kind, trigger=trigger,
                  status="error" if error else "exito", started_at=started_at, finished_at=finished_at,
                  window_from=window_from, rows_read=counts.leidos, imported=counts.importados,
                  updated=counts.actualizados, unchanged=counts.sin_cambios, still_open=counts.abiertos,
                  cancelled=counts.cancelados, unmapped=counts.sin_mapeo, rejected=counts.rechazados,
                  reasons=counts.reasons[:MAX_STORED_REASONS], unmapped_services=counts.unmapped_services,
                  warnings=counts.warnings, error=error, filename=(filename or "")[:200] or None,
                  created_by=ctx.user_id)
    session.add(run)
    await session.flush()
    metrics.SYNC_RUNS.labels(kind, run.status).inc()
    for key, value in counts.as_dict().items():
        if key != "leidos" and value:
            metrics.SYNC_ROWS.labels(kind, key).inc(value)
    centre = await session.get(Centre, centre_id)
    await audit.record(session, ctx, action="ans_fuente_sincronizada", record_type="sincronizacion",
                       record_id=run.id, after={"centro": str(centre_id), "origen": kind, "estado": run.status,
                                                **counts.as_dict(), **({"error": error} if error else {})},
                       entity_id=centre.administering_entity_id if centre else None)
    return run
