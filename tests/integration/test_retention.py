"""Retention: finished work older than the window is deleted in batches; nothing still needed ever is.

Rows are written with timestamps in the past and retention runs at the real current time, so the other tests'
(recent) rows sharing this database are never in the way. Each test checks its own rows by id.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import DBAPIError

from app.audit import verify_chain
from app.audit_models import AuditEntry
from app.cli import main as mac
from app.config import psycopg_url
from app.db import TenantContext
from app.tenants.onboarding_models import Invitation
from app.worker.models import OutboxMessage, OutgoingEmail
from app.worker.retention import BATCH_SIZE, KINDS, apply_retention, cutoffs, purge, purge_batch, retention_job
from tests.worker_fixtures import runtime, worker_settings  # noqa: F401

DAYS = 30
SYSTEM = TenantContext.system()


def ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


# --- Writing rows as they would be left behind ------------------------------------------------------------


async def outbox_message(db, *, sent_days_ago: float | None, created_days_ago: float = 200,  # noqa: ANN001
                         failing: bool = False) -> uuid.UUID:
    row_id = uuid.uuid4()
    async with db.transaction(SYSTEM) as s:
        await s.execute(insert(OutboxMessage).values(
            id=row_id, queue_name="default", actor_name="prueba_retencion", message={"prueba": True},
            attempts=7 if failing else 1, last_error="ConnectionError: broker caído" if failing else None,
            created_at=ago(created_days_ago), available_at=ago(created_days_ago),
            sent_at=ago(sent_days_ago) if sent_days_ago is not None else None))
    return row_id


async def mail(db, *, sent_days_ago: float | None, failed: bool = False) -> uuid.UUID:  # noqa: ANN001
    row_id = uuid.uuid4()
    async with db.transaction(SYSTEM) as s:
        await s.execute(insert(OutgoingEmail).values(
            id=row_id, to_address="persona@prueba.gob.pe", subject="Prueba", body_text="Hola", created_at=ago(200),
            attempts=10 if failed else 1, last_error="SMTPServerDisconnected" if failed else None,
            sent_at=ago(sent_days_ago) if sent_days_ago is not None else None))
    return row_id


async def web_session(db, *, expires_in: timedelta | None) -> str:  # noqa: ANN001
    key = uuid.uuid4().hex + uuid.uuid4().hex
    async with db.transaction(SYSTEM) as s:
        await s.execute(text("INSERT INTO web_sessions (key_hash, data, expires_at) VALUES (:k, 'x', :e)"),
                        {"k": key, "e": datetime.now(UTC) + expires_in if expires_in is not None else None})
    return key


def reset_link(owner_url: str, user_id: uuid.UUID, *, expires: datetime, used: datetime | None = None) -> uuid.UUID:
    """A password-reset / set-password link; the table is DEFINER_ONLY, so written as the owner."""
    row_id = uuid.uuid4()
    with psycopg.connect(psycopg_url(owner_url)) as conn:
        conn.execute("INSERT INTO password_reset_tokens (id, user_id, token_hash, expires_at, used_at, created_at)"
                     " VALUES (%s, %s, %s, %s, %s, %s)",
                     (row_id, user_id, uuid.uuid4().hex + uuid.uuid4().hex, expires, used, expires - timedelta(hours=24)))
    return row_id


def reset_links_left(owner_url: str, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    with psycopg.connect(psycopg_url(owner_url)) as conn:
        return {r[0] for r in conn.execute("SELECT id FROM password_reset_tokens WHERE id = ANY(%s)", (ids,))}


async def invitation(db, entity_id: uuid.UUID, *, expires: datetime, accepted: datetime | None = None,  # noqa: ANN001
                     revoked: datetime | None = None) -> uuid.UUID:
    row_id = uuid.uuid4()
    async with db.transaction(SYSTEM) as s:
        await s.execute(insert(Invitation).values(
            id=row_id, entity_id=entity_id, email=f"{row_id.hex[:10]}@prueba.gob.pe", role="finanzas",
            token_hash=uuid.uuid4().hex + uuid.uuid4().hex, expires_at=expires, accepted_at=accepted,
            revoked_at=revoked, sends=1, created_at=expires - timedelta(hours=72)))
    return row_id


async def existing(db, model, ids) -> set:  # noqa: ANN001
    key = model.__mapper__.primary_key[0]
    async with db.transaction(SYSTEM) as s:
        return set((await s.scalars(select(key).where(key.in_(list(ids))))).all())


async def sessions_left(db, keys) -> set[str]:  # noqa: ANN001
    async with db.transaction(SYSTEM) as s:
        return set((await s.scalars(text("SELECT key_hash FROM web_sessions WHERE key_hash = ANY(:k)"),
                                    {"k": list(keys)})).all())


# --- The pure decision --------------------------------------------------------------------------------------------


def test_the_cutoffs_keep_the_window_of_finished_work_and_end_sessions_at_their_expiry():
    now = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    cut = cutoffs(now, 30)
    assert cut.sent_before == datetime(2026, 10, 24, 15, 0, tzinfo=UTC)
    assert cut.links_dead_before == cut.sent_before
    assert cut.sessions_expired_before == now
    with pytest.raises(ValueError):
        cutoffs(now, 0)
    with pytest.raises(ValueError):
        cutoffs(datetime(2026, 11, 23), 30)


# --- What goes and what stays ---------------------------------------------------------------------------------


async def test_outbox_messages_sent_before_the_window_go_and_pending_or_failing_ones_stay(db):
    old_sent = await outbox_message(db, sent_days_ago=31)
    recent_sent = await outbox_message(db, sent_days_ago=29)
    old_pending = await outbox_message(db, sent_days_ago=None)
    old_failing = await outbox_message(db, sent_days_ago=None, failing=True)

    report = await apply_retention(db, days=DAYS)

    assert report.deleted["outbox"] >= 1
    assert await existing(db, OutboxMessage, [old_sent, recent_sent, old_pending, old_failing]) == {
        recent_sent, old_pending, old_failing}


async def test_mails_sent_before_the_window_go_and_undelivered_ones_stay_however_old(db):
    old_sent = await mail(db, sent_days_ago=45)
    recent_sent = await mail(db, sent_days_ago=2)
    never_sent = await mail(db, sent_days_ago=None)
    given_up = await mail(db, sent_days_ago=None, failed=True)

    report = await apply_retention(db, days=DAYS)

    assert report.deleted["correos"] >= 1
    assert await existing(db, OutgoingEmail, [old_sent, recent_sent, never_sent, given_up]) == {
        recent_sent, never_sent, given_up}


async def test_the_window_comes_from_the_run(db):
    ten_days = await mail(db, sent_days_ago=10)
    await apply_retention(db, days=DAYS)
    assert await existing(db, OutgoingEmail, [ten_days]) == {ten_days}
    await apply_retention(db, days=7)
    assert await existing(db, OutgoingEmail, [ten_days]) == set()


async def test_expired_web_sessions_go_and_live_ones_stay(db):
    expired = await web_session(db, expires_in=timedelta(minutes=-1))
    long_expired = await web_session(db, expires_in=timedelta(days=-90))
    live = await web_session(db, expires_in=timedelta(hours=8))
    without_expiry = await web_session(db, expires_in=None)

    report = await apply_retention(db, days=DAYS)

    assert report.deleted["sesiones"] >= 2
    assert await sessions_left(db, [expired, long_expired, live, without_expiry]) == {live, without_expiry}


async def test_password_links_dead_for_longer_than_the_window_go_and_working_or_recent_ones_stay(db, tenants,
                                                                                                   owner_url):
    user_id = (await tenants.create(roles=("finanzas",))).users["finanzas"].id
    now = datetime.now(UTC)
    expired_long_ago = reset_link(owner_url, user_id, expires=now - timedelta(days=31))
    used_long_ago = reset_link(owner_url, user_id, expires=now + timedelta(days=400),
                               used=now - timedelta(days=40))
    expired_yesterday = reset_link(owner_url, user_id, expires=now - timedelta(days=1))
    used_yesterday = reset_link(owner_url, user_id, expires=now - timedelta(hours=20), used=now - timedelta(days=1))
    working = reset_link(owner_url, user_id, expires=now + timedelta(hours=24))

    report = await apply_retention(db, days=DAYS)

    assert report.deleted["enlaces"] >= 2
    assert reset_links_left(owner_url, [expired_long_ago, used_long_ago, expired_yesterday, used_yesterday,
                                        working]) == {expired_yesterday, used_yesterday, working}


async def test_unaccepted_invitations_dead_for_longer_than_the_window_go_and_accepted_ones_stay(db, tenants):
    entity_id = (await tenants.create()).entity.id
    now = datetime.now(UTC)
    expired_long_ago = await invitation(db, entity_id, expires=now - timedelta(days=31))
    revoked_long_ago = await invitation(db, entity_id, expires=now + timedelta(days=300),
                                        revoked=now - timedelta(days=35))
    expired_last_week = await invitation(db, entity_id, expires=now - timedelta(days=7))
    accepted_long_ago = await invitation(db, entity_id, expires=now - timedelta(days=360),
                                         accepted=now - timedelta(days=362))
    open_one = await invitation(db, entity_id, expires=now + timedelta(hours=72))

    report = await apply_retention(db, days=DAYS)

    assert report.deleted["invitaciones"] >= 2
    assert await existing(db, Invitation, [expired_long_ago, revoked_long_ago, expired_last_week,
                                           accepted_long_ago, open_one]) == {
        expired_last_week, accepted_long_ago, open_one}


# --- The deletion function behind the definer-only table --------------------------------------------------------


async def test_only_the_system_may_purge_password_links_and_never_a_working_one(db, tenants, owner_url):
    user_id = (await tenants.create(roles=("finanzas",))).users["finanzas"].id
    working = reset_link(owner_url, user_id, expires=datetime.now(UTC) + timedelta(hours=24))
    for ctx in (TenantContext.anonymous(), TenantContext(role="gestor_entidad", entity_id=uuid.uuid4())):
        with pytest.raises(DBAPIError, match="Solo el sistema"):
            async with db.transaction(ctx) as s:
                await s.execute(text("SELECT retention_purge_reset_tokens(now(), 100)"))
    async with db.transaction(SYSTEM) as s:  # a cut-off in the future is capped at now
        await s.execute(text("SELECT retention_purge_reset_tokens(now() + interval '10 years', 50000)"))
    assert reset_links_left(owner_url, [working]) == {working}


# --- The audit log ---------------------------------------------------------------------------------------------


async def test_each_run_appends_one_audit_entry_with_the_counts_and_removes_none(db, owner_url):
    await outbox_message(db, sent_days_ago=60)
    async with db.transaction(SYSTEM) as s:
        before = set((await s.scalars(select(AuditEntry.seq))).all())

    report = await apply_retention(db, days=DAYS)

    async with db.transaction(SYSTEM) as s:
        after = (await s.scalars(select(AuditEntry).where(AuditEntry.seq.not_in(before)))).all()
        still_there = await s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.seq.in_(before)))
    assert still_there == len(before)
    assert [(e.action, e.record_type, e.actor_role) for e in after] == [("retencion_aplicada", "retencion", "sistema")]
    assert after[0].after == {"dias": DAYS, "eliminados": report.deleted}
    assert report.deleted["outbox"] >= 1
    assert verify_chain(owner_url).intact


# --- Batches and repetition --------------------------------------------------------------------------------------


async def test_a_backlog_larger_than_one_batch_is_purged_entirely(db):
    backlog = 2 * BATCH_SIZE + 7
    async with db.transaction(SYSTEM) as s:
        ids = (await s.scalars(text(
            "INSERT INTO outbox (id, queue_name, actor_name, message, attempts, available_at, sent_at, created_at)"
            " SELECT gen_random_uuid(), 'default', 'prueba_retencion', '{}'::jsonb, 1, now() - interval '90 days',"
            "        now() - interval '60 days' + g * interval '1 second', now() - interval '90 days'"
            " FROM generate_series(1, :n) g RETURNING id"), {"n": backlog})).all()
    kept = await outbox_message(db, sent_days_ago=1)

    report = await apply_retention(db, days=DAYS)

    assert report.deleted["outbox"] >= backlog
    assert await existing(db, OutboxMessage, ids + [kept]) == {kept}


# How many rows of each kind are past the cut-offs (counted as the owner: every tenant, definer-only tables).
DUE = {
    "outbox": "SELECT count(*) FROM outbox WHERE sent_at < %(sent)s",
    "correos": "SELECT count(*) FROM outgoing_emails WHERE sent_at < %(sent)s",
    "sesiones": "SELECT count(*) FROM web_sessions WHERE expires_at < %(now)s",
    "enlaces": "SELECT count(*) FROM password_reset_tokens WHERE expires_at < %(links)s OR used_at < %(links)s",
    "invitaciones": "SELECT count(*) FROM invitations WHERE accepted_at IS NULL"
                    " AND (expires_at < %(links)s OR revoked_at < %(links)s)",
}


def due(owner_url: str, kind: str, cut) -> int:  # noqa: ANN001
    with psycopg.connect(psycopg_url(owner_url)) as conn:
        return conn.execute(DUE[kind], {"sent": cut.sent_before, "now": cut.sessions_expired_before,
                                        "links": cut.links_dead_before}).fetchone()[0]


@pytest.mark.parametrize("kind", list(KINDS))
async def test_one_statement_deletes_at_most_one_batch(db, tenants, owner_url, kind):
    tenant = await tenants.create(roles=("finanzas",))
    now = datetime.now(UTC)
    for _ in range(25):
        if kind == "outbox":
            await outbox_message(db, sent_days_ago=400)
        elif kind == "correos":
            await mail(db, sent_days_ago=400)
        elif kind == "sesiones":
            await web_session(db, expires_in=timedelta(days=-400))
        elif kind == "enlaces":
            reset_link(owner_url, tenant.users["finanzas"].id, expires=now - timedelta(days=400))
        else:
            await invitation(db, tenant.entity.id, expires=now - timedelta(days=400))
    cut = cutoffs(now, DAYS)
    waiting = due(owner_url, kind, cut)
    assert waiting >= 25

    assert await purge_batch(db, kind, cut, batch=10) == 10
    assert due(owner_url, kind, cut) == waiting - 10


async def test_a_batch_size_that_could_never_finish_is_refused(db):
    cut = cutoffs(datetime.now(UTC), DAYS)
    for batch in (0, 50_001):
        with pytest.raises(ValueError, match="lote"):
            await purge(db, "outbox", cut, batch=batch)


async def test_running_it_again_deletes_nothing_more(db, tenants, owner_url):
    user_id = (await tenants.create(roles=("finanzas",))).users["finanzas"].id
    for _ in range(3):
        await outbox_message(db, sent_days_ago=50)
        await mail(db, sent_days_ago=50)
        await web_session(db, expires_in=timedelta(days=-3))
        reset_link(owner_url, user_id, expires=datetime.now(UTC) - timedelta(days=50))
    now = datetime.now(UTC)

    first = await apply_retention(db, days=DAYS, now=now)
    second = await apply_retention(db, days=DAYS, now=now)

    assert min(first.deleted[k] for k in ("outbox", "correos", "sesiones", "enlaces")) >= 3
    assert second.deleted == {kind: 0 for kind in first.deleted}


# --- How it runs: the daily worker job and the command ------------------------------------------------------------


def test_retention_is_a_daily_periodic_job_of_the_worker():
    from app.worker.schedule import periodic_jobs

    assert periodic_jobs()["apply_retention"] == 86_400


async def test_the_worker_job_applies_the_configured_window(db, runtime):  # noqa: F811
    old = await mail(db, sent_days_ago=runtime.settings.retention_days + 1)
    recent = await mail(db, sent_days_ago=runtime.settings.retention_days - 1)
    await asyncio.to_thread(retention_job, runtime)
    assert await existing(db, OutgoingEmail, [old, recent]) == {recent}


async def test_mac_retencion_prints_what_it_deleted_per_kind(db, capsys):
    old = await outbox_message(db, sent_days_ago=20)
    code = await asyncio.to_thread(mac, ["retencion", "--dias", "15"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Retención aplicada (se conservan 15 días" in out
    for label in ("Mensajes del outbox ya enviados", "Correos ya enviados", "Sesiones web vencidas",
                  "Enlaces de un solo uso", "Invitaciones no aceptadas"):
        assert label in out
    assert await existing(db, OutboxMessage, [old]) == set()
    assert await asyncio.to_thread(mac, ["retencion", "--dias", "0"]) == 2
