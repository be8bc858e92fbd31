"""Outgoing e-mail: queued in the caller's transaction, delivered by the worker exactly once per success.

:func:`queue_email` writes an ``outgoing_emails`` row and an outbox message for the ``send_email`` job in the
same transaction as the work that causes the mail (a password reset, an adhesion signed, ...). The job
delivers it by SMTP when ``SMTP_URL`` is set, otherwise as an RFC 5322 ``.eml`` file in ``DATA_DIR/mail``
(the embedded run, and tests: :func:`read_mailbox`).

Idempotency: delivery happens while the row is locked (``SELECT ... FOR UPDATE``) and only if ``sent_at`` is
still empty; ``sent_at`` is written in that same transaction. A duplicate message waits for the lock and then
finds the mail sent. The one window left is a crash between the SMTP server accepting the mail and the
commit; the ``Message-ID`` is derived from the row id so receivers can recognise such a duplicate.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, parseaddr
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import new_id
from app.worker.broker import WorkerRuntime, job
from app.worker.models import OutgoingEmail
from app.worker.outbox import describe_error, enqueue_in_transaction

log = logging.getLogger(__name__)

MAIL_QUEUE = "mail"
SMTP_TIMEOUT_SECONDS = 30


# --- Queueing: in the caller's transaction ------------------------------------------------------------


async def queue_email(
    session: AsyncSession, *, to: str, subject: str, body: str, entity_id: uuid.UUID | None = None
) -> uuid.UUID:
    """Write the mail and its outbox message in ``session``'s transaction; returns the mail's id.

    Nothing is sent if the transaction rolls back. ``entity_id`` is the tenant the mail belongs to.
    """
    email_id = new_id()
    # Core INSERT without RETURNING: a tenant may write mail but not read the table back (RLS).
    await session.execute(
        insert(OutgoingEmail).values(
            id=email_id, entity_id=entity_id, to_address=to, subject=subject, body_text=body, attempts=0
        )
    )
    await enqueue_in_transaction(session, send_email, str(email_id), entity_id=entity_id)
    return email_id


# --- The job -----------------------------------------------------------------------------------------------


# How many times: the outbox's budget (OUTBOX_MAX_ATTEMPTS, app.worker.outbox); a mail that never leaves ends as
# a failed outbox message (`mac outbox fallidos`), its row here keeping attempts and last_error.
@job("send_email", queue_name=MAIL_QUEUE, min_backoff=5_000, max_backoff=3_600_000)
def send_email(runtime: WorkerRuntime, email_id: str) -> None:
    """Deliver one mail; safe to run any number of times for the same id."""
    deliver_email(runtime, uuid.UUID(email_id))


def deliver_email(runtime: WorkerRuntime, email_id: uuid.UUID) -> bool:
    """Send the mail if it has not been sent; True when it was sent now.

    A delivery error is recorded on the row (attempts, last_error) and raised again so that dramatiq
    retries the message with back-off.
    """
    error: Exception | None = None
    with runtime.transaction() as session:
        email = session.get(OutgoingEmail, email_id, with_for_update=True)
        if email is None:
            log.warning("Correo %s inexistente; nada que enviar", email_id)
            return False
        if email.sent_at is not None:
            log.info("Correo %s ya enviado; se ignora el duplicado", email_id)
            return False
        message = compose_email(
            email_id=email.id, sender=runtime.settings.mail_from, to=email.to_address,
            subject=email.subject, body=email.body_text, date=datetime.now(UTC),
        )
        email.attempts += 1
        try:
            transmit(runtime.settings, message, email_id=email.id)
        except Exception as exc:
            email.last_error = describe_error(exc)
            error = exc
        else:
            email.sent_at = datetime.now(UTC)
            email.last_error = None
    if error is not None:
        raise error
    return True


# --- Composing and transmitting (no database) ------------------------------------------------------------


def compose_email(
    *, email_id: uuid.UUID, sender: str, to: str, subject: str, body: str, date: datetime
) -> EmailMessage:
    """An RFC 5322 message; its Message-ID is derived from the row id, stable across retries."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(date.astimezone(UTC))
    message["Message-ID"] = message_id_for(email_id, sender)
    message.set_content(body, cte="quoted-printable")  # 7-bit safe for any SMTP server
    return message


def message_id_for(email_id: uuid.UUID, sender: str) -> str:
    domain = parseaddr(sender)[1].rpartition("@")[2] or "mac.gob.pe"
    return f"<{email_id}@{domain}>"


def transmit(settings: Settings, message: EmailMessage, *, email_id: uuid.UUID) -> None:
    """SMTP when configured, otherwise a file in the local mailbox."""
    if settings.smtp_url:
        send_smtp(parse_smtp_url(settings.smtp_url), message)
    else:
        write_to_mailbox(settings.data_dir, message, email_id=email_id)


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    security: str = "none"  # "none", "starttls" or "ssl"


def parse_smtp_url(url: str) -> SmtpConfig:
    """``smtp://user:pass@host:port`` (STARTTLS on port 587 or with ``?starttls=true``) or ``smtps://``
    (TLS from the start, port 465 by default). User and password may be percent-encoded."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("SMTP_URL debe tener la forma smtp://usuario:clave@servidor:puerto")
    port = parts.port or (465 if scheme == "smtps" else 25)
    starttls = parse_qs(parts.query).get("starttls", [""])[0].lower() in ("1", "true", "yes", "si", "sí")
    security = "ssl" if scheme == "smtps" else ("starttls" if port == 587 or starttls else "none")
    return SmtpConfig(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        security=security,
    )


def send_smtp(config: SmtpConfig, message: EmailMessage) -> None:
    context = ssl.create_default_context()
    if config.security == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(config.host, config.port, timeout=SMTP_TIMEOUT_SECONDS,
                                                context=context)
    else:
        client = smtplib.SMTP(config.host, config.port, timeout=SMTP_TIMEOUT_SECONDS)
    with client:
        if config.security == "starttls":
            client.starttls(context=context)
        if config.username:
            client.login(config.username, config.password or "")
        client.send_message(message)


def mailbox_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "mail"


def write_to_mailbox(data_dir: Path, message: EmailMessage, *, email_id: uuid.UUID) -> Path:
    """One ``.eml`` file per delivery, like a real mailbox (a duplicate delivery shows up as a second file).

    Written to a temporary name and renamed, so readers never see half a message.
    """
    folder = mailbox_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{time.time_ns():020d}-{email_id}.eml"
    tmp = folder / f".{path.name}.tmp"
    tmp.write_bytes(message.as_bytes(policy=policy.SMTP))
    os.replace(tmp, path)
    return path


def read_mailbox(data_dir: Path) -> list[EmailMessage]:
    """Every mail delivered to the local mailbox, oldest first (for tests and the embedded run).

    Files hold RFC 5322 line endings (CRLF); they are read with Python's (LF), so bodies compare as written.
    """
    folder = mailbox_dir(data_dir)
    if not folder.is_dir():
        return []
    parser = BytesParser(policy=policy.default)
    return [parser.parsebytes(path.read_bytes().replace(b"\r\n", b"\n")) for path in sorted(folder.glob("*.eml"))]
