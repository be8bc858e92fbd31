"""The append-only, hash-chained audit log.

The database computes each entry's sequence number and hash (trigger ``audit_chain``) and refuses updates
and deletes; the application only appends. :func:`verify_chain` recomputes every hash and link, so an edited,
deleted or truncated entry is detected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import psycopg
import structlog
from sqlalchemy import Insert, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.audit_models import AuditEntry
from app.config import psycopg_url
from app.db import TenantContext


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str)) if value is not None else None


async def record(session: AsyncSession, ctx: TenantContext, *, action: str, record_type: str,
                 record_id: Any = None, actor_label: str | None = None, before: dict | None = None,
                 after: dict | None = None, entity_id: Any = None) -> None:
    """Append an entry in the caller's transaction (it is kept only if the work is committed)."""
    await session.execute(_entry(ctx, action=action, record_type=record_type, record_id=record_id,
                                 actor_label=actor_label, before=before, after=after, entity_id=entity_id))


def record_sync(session: Session, ctx: TenantContext, *, action: str, record_type: str, record_id: Any = None,
                actor_label: str | None = None, before: dict | None = None, after: dict | None = None,
                entity_id: Any = None) -> None:
    """:func:`record` for a synchronous session (dramatiq actors and middleware run in worker threads)."""
    session.execute(_entry(ctx, action=action, record_type=record_type, record_id=record_id,
                           actor_label=actor_label, before=before, after=after, entity_id=entity_id))


def _entry(ctx: TenantContext, *, action: str, record_type: str, record_id: Any, actor_label: str | None,
           before: dict | None, after: dict | None, entity_id: Any) -> Insert:
    return insert(AuditEntry).values(
        seq=0, prev_hash="", hash="",  # replaced by the database trigger
        entity_id=entity_id if entity_id is not None else ctx.entity_id,
        actor_user_id=ctx.user_id,
        actor_label=actor_label or (f"cliente:{ctx.client_id}" if ctx.client_id else str(ctx.user_id or ctx.role)),
        actor_role=ctx.role,
        ip=ctx.ip,
        action=action,
        record_type=record_type,
        record_id=str(record_id) if record_id is not None else None,
        before=_jsonable(before),
        after=_jsonable(after),
        # The web request whose work this is (bound by the request log middleware, and in a job by
        # app.worker.observability from the message the request queued).
        request_id=structlog.contextvars.get_contextvars().get("request_id"),
    )


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    problem: str


@dataclass(frozen=True)
class ChainReport:
    entries: int
    head_hash: str
    problems: list[ChainProblem]

    @property
    def intact(self) -> bool:
        return not self.problems


def verify_chain(owner_url: str) -> ChainReport:
    """Walk the chain in order, recomputing every hash and link. Runs as the owner (reads all tenants)."""
    with psycopg.connect(psycopg_url(owner_url)) as conn:
        return verify_chain_on(conn)


def verify_chain_on(conn: psycopg.Connection) -> ChainReport:
    problems: list[ChainProblem] = []
    expected_prev = "0" * 64
    expected_seq = 1
    count = 0
    conn.execute("SELECT set_config('app.role', 'sistema', true)")
    head_seq, head_hash = conn.execute("SELECT last_seq, last_hash FROM audit_chain_head WHERE id = 1").fetchone()
    with conn.cursor(name="audit_walk") as cur:
        cur.itersize = 5000
        cur.execute("SELECT seq, prev_hash, hash, audit_digest(a) FROM audit_log a ORDER BY seq")
        for seq, prev_hash, stored_hash, recomputed in cur:
            count += 1
            if seq != expected_seq:
                problems.append(ChainProblem(expected_seq, f"faltan las entradas {expected_seq} a {seq - 1}"))
            if prev_hash != expected_prev:
                problems.append(ChainProblem(seq, "el enlace con la entrada anterior no coincide"))
            if recomputed != stored_hash:
                problems.append(ChainProblem(seq, "el contenido fue modificado (hash distinto)"))
            expected_prev = stored_hash
            expected_seq = seq + 1
    if expected_seq - 1 != head_seq or expected_prev != head_hash:
        problems.append(ChainProblem(head_seq, "la cabeza de la cadena no coincide: se eliminaron entradas finales"))
    return ChainReport(entries=count, head_hash=head_hash, problems=problems)
