"""Retention: what the platform no longer needs is deleted, daily, in small batches.

What goes (and what never does):

- ``outbox``: messages relayed to the broker more than ``RETENTION_DAYS`` ago. A row still waiting (never
  relayed, or failing and backing off) stays: it is work in progress or something to look at. So does a
  failed one (``failed_at``: its job failed every attempt after being relayed) until an operator retries it
  (``mac outbox reintentar``).
- ``outgoing_emails``: mails delivered more than ``RETENTION_DAYS`` ago. An undelivered one stays however old:
  once dramatiq gives up retrying it is the only trace of a mail that never left (``attempts``,
  ``last_error``), and failures are few, so keeping them costs nothing.
- ``web_sessions``: sessions whose ``expires_at`` is past (the store already ignores them). A session without
  expiry stays.
- ``password_reset_tokens`` (reset and set-password links): links that expired or were used more than
  ``RETENTION_DAYS`` ago. The table is DEFINER_ONLY, so the deletion goes through the SECURITY DEFINER
  function ``retention_purge_reset_tokens`` (migration 0011), which also refuses to touch a working link.
- ``invitations``: invitations never accepted that expired or were revoked more than ``RETENTION_DAYS`` ago
  (dead links cluttering the manager's list; the audit log keeps that they were sent). An accepted invitation
  is the provenance of a membership and stays, like every other domain record.
- Never the audit log (append-only by law; its triggers refuse deletes anyway) and never registration
  requests: their link is the request itself, a domain record.

Each kind is deleted by one set-based statement per batch of :data:`BATCH_SIZE` rows, each batch in its own
short transaction, looping until a batch comes back short: a long backlog never holds one huge transaction
or lock. Rows locked by someone else (the relay, a mail being sent) are skipped (``SKIP LOCKED``) and wait
for the next run. Every run appends one audit entry with the counts per kind.

:func:`apply_retention` is shared by the daily worker job (:data:`retention_job`) and ``mac retencion``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from app import audit
from app.db import Database, TenantContext
from app.worker.broker import WorkerRuntime, job

BATCH_SIZE = 5_000
DAY_SECONDS = 86_400

# Kind → label for people (CLI output), in the order the kinds are purged.
KINDS: dict[str, str] = {
    "outbox": "Mensajes del outbox ya enviados",
    "correos": "Correos ya enviados",
    "sesiones": "Sesiones web vencidas",
    "enlaces": "Enlaces de un solo uso vencidos o usados (contraseña)",
    "invitaciones": "Invitaciones no aceptadas vencidas o revocadas",
}


# --- What is old enough (pure) -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Cutoffs:
    """Rows older than these instants are no longer needed."""

    sent_before: datetime  # outbox messages and mails sent before this
    sessions_expired_before: datetime  # web sessions expired before this (now)
    links_dead_before: datetime  # one-time links expired, used or revoked before this


def cutoffs(now: datetime, days: int) -> Cutoffs:
    """The cut-offs for a run at ``now`` keeping ``days`` days (at least one) of finished work."""
    if days < 1:
        raise ValueError("La retención debe ser de al menos un día")
    if now.tzinfo is None:
        raise ValueError("La hora de referencia debe indicar su zona horaria")
    before = now - timedelta(days=days)
    return Cutoffs(sent_before=before, sessions_expired_before=now, links_dead_before=before)


# --- The deletions (set-based, one batch per statement) -------------------------------------------------------

# Each statement picks one batch in a MATERIALIZED CTE, evaluated exactly once, then deletes those rows. (The
# shorter ``DELETE ... WHERE id IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)`` is not bounded: when the
# planner rescans the sub-query, rows the statement already deleted are skipped and the next ones are taken,
# so one statement can delete far more than ``n``.)
_BATCH_STATEMENTS = {
    "outbox": text("""
        WITH batch AS MATERIALIZED (
          SELECT id FROM outbox WHERE sent_at < :sent_before AND failed_at IS NULL
          ORDER BY sent_at LIMIT :batch FOR UPDATE SKIP LOCKED)
        DELETE FROM outbox o USING batch b WHERE o.id = b.id"""),
    "correos": text("""
        WITH batch AS MATERIALIZED (
          SELECT id FROM outgoing_emails WHERE sent_at < :sent_before
          LIMIT :batch FOR UPDATE SKIP LOCKED)
        DELETE FROM outgoing_emails m USING batch b WHERE m.id = b.id"""),
    "sesiones": text("""
        WITH batch AS MATERIALIZED (
          SELECT key_hash FROM web_sessions WHERE expires_at < :sessions_expired_before
          ORDER BY expires_at LIMIT :batch FOR UPDATE SKIP LOCKED)
        DELETE FROM web_sessions w USING batch b WHERE w.key_hash = b.key_hash"""),
    "enlaces": text("SELECT retention_purge_reset_tokens(:links_dead_before, :batch)"),
    "invitaciones": text("""
        WITH batch AS MATERIALIZED (
          SELECT id FROM invitations
           WHERE accepted_at IS NULL AND (expires_at < :links_dead_before OR revoked_at < :links_dead_before)
          LIMIT :batch FOR UPDATE SKIP LOCKED)
        DELETE FROM invitations i USING batch b WHERE i.id = b.id"""),
}


@dataclass(frozen=True)
class RetentionReport:
    days: int
    deleted: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.deleted.values())

    def lines(self) -> list[str]:
        lines = [f"Retención aplicada (se conservan {self.days} días de trabajo terminado):"]
        lines += [f"  {label}: {self.deleted.get(kind, 0)} eliminados" for kind, label in KINDS.items()]
        lines.append(f"  Total: {self.total} filas eliminadas. El registro de auditoría no se toca.")
        return lines


async def purge_batch(db: Database, kind: str, cut: Cutoffs, batch: int = BATCH_SIZE) -> int:
    """One batch of ``kind``, at most ``batch`` rows, in its own transaction; returns how many were deleted."""
    params = {"sent_before": cut.sent_before, "sessions_expired_before": cut.sessions_expired_before,
              "links_dead_before": cut.links_dead_before, "batch": batch}
    async with db.transaction(TenantContext.system()) as s:
        result = await s.execute(_BATCH_STATEMENTS[kind], params)
        return int(result.scalar() or 0) if kind == "enlaces" else result.rowcount


async def purge(db: Database, kind: str, cut: Cutoffs, *, batch: int = BATCH_SIZE) -> int:
    """Delete every row of ``kind`` past its cut-off, ``batch`` rows per transaction; returns how many."""
    if not 1 <= batch <= 50_000:  # 50,000: the cap of retention_purge_reset_tokens
        raise ValueError("El lote de retención debe tener entre 1 y 50 000 filas")
    total = 0
    while True:
        deleted = await purge_batch(db, kind, cut, batch)
        total += deleted
        if deleted < batch:
            return total


async def apply_retention(db: Database, *, days: int, now: datetime | None = None,
                          batch: int = BATCH_SIZE) -> RetentionReport:
    """Delete what is no longer needed (see the module's docstring) and audit the run; safe to repeat."""
    cut = cutoffs(now or datetime.now(UTC), days)
    deleted = {kind: await purge(db, kind, cut, batch=batch) for kind in KINDS}
    report = RetentionReport(days=days, deleted=deleted)
    async with db.transaction(TenantContext.system()) as s:
        await audit.record(s, TenantContext.system(), action="retencion_aplicada", record_type="retencion",
                           actor_label="sistema", after={"dias": days, "eliminados": deleted})
    return report


# --- The daily job -----------------------------------------------------------------------------------------


def _job(runtime: WorkerRuntime, days: int | None = None) -> None:
    """dramatiq entry point: a daily message (periodic, without arguments) applies the configured retention."""
    runtime.run_with_database(lambda db: apply_retention(db, days=days or runtime.settings.retention_days),
                              pool_size=1)


# Recorded in the worker's job registry (app.worker.broker.WORKER_JOB_MODULES); claimed once a day across all
# workers (app.worker.schedule). Idempotent: a second run finds nothing more to delete.
retention_job = job("apply_retention", max_retries=3, time_limit=3_600_000, every_seconds=DAY_SECONDS)(_job)
