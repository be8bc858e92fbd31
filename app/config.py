"""One Settings object, read from the environment, with safe defaults for the embedded run."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    # Owner connection (runs migrations). Unset: an embedded PostgreSQL under data_dir/postgres.
    database_url: str | None = None
    # Runtime connection (the app and the worker): a role that owns nothing and is subject to RLS.
    # Unset: derived from database_url with runtime_role / runtime_password.
    app_database_url: str | None = None
    runtime_role: str = "mac_app"
    runtime_password: str = "mac_app_local"
    # Role that owns the few SECURITY DEFINER functions used before a tenant is known (login, tokens).
    definer_role: str = "mac_definer"
    database_name: str = "mac"

    # amqp://... (RabbitMQ) or redis://...; unset: the PostgreSQL broker on the app database.
    broker_url: str | None = None
    # Prefix of the broker's queue names ("mac_" -> mac_default, mac_mail, mac_reports): installations or test
    # runs that share one RabbitMQ never consume each other's messages.
    queue_prefix: str = ""

    data_dir: Path = Field(default=PROJECT_ROOT / "var")
    secret_key: str | None = None
    base_url: str = ""  # public URL (links in e-mails); unset: http://host:port
    host: str = "127.0.0.1"
    port: int = 8000
    # Cookies marked Secure: on by default outside plain-http localhost.
    secure_cookies: bool | None = None

    smtp_url: str | None = None  # smtp://user:pass@host:port ; unset: mails are written to data_dir/mail
    mail_from: str = "Plataforma MAC <no-responder@mac.gob.pe>"

    # External OpenID Connect provider (ID GOB.PE or compatible).
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_scopes: str = "openid profile email doc ruc"

    # POSTs per minute and client address on sign-in, reset, registration and token endpoints.
    login_rate_limit_per_minute: int = 20
    access_token_minutes: int = 15
    log_json: bool = False

    # CPU-heavy work of web requests (PDF parsing, rendering, signing, spreadsheets) runs in a bounded pool of
    # threads (app.offload): this many at a time, this many more waiting (then 503), each with a time limit.
    offload_workers: int = Field(default=2, ge=1, le=32)
    offload_queue: int = Field(default=8, ge=0, le=1000)
    offload_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    # Running several processes (README, «Despliegue»). REDIS_URL: shared stores (the sign-in rate limit) in
    # Redis instead of PostgreSQL. FORWARDED_ALLOW_IPS: the proxies whose X-Forwarded-For/-Proto are believed
    # (comma-separated addresses or networks, "*" for any); from anyone else the headers are ignored.
    redis_url: str | None = None
    forwarded_allow_ips: str = "127.0.0.1"
    # /metrics (Prometheus text format) answers only with this token (Authorization: Bearer); unset: off (404).
    metrics_token: str | None = None
    # Where the signed daily checkpoints of the audit chain's head are kept (outside the database).
    # Unset: DATA_DIR/audit_checkpoints.
    audit_checkpoint_dir: Path | None = None

    # Retention (app.worker.retention, daily in the worker and `mac retencion`): outbox messages and e-mails
    # already sent, and one-time links (password reset, set-password, unaccepted invitations) that stopped
    # working, are deleted this many days later. Unsent ones and the audit log are never deleted; expired
    # web sessions go as soon as they expire.
    retention_days: int = Field(default=30, ge=1)

    # Outbox messages (background jobs, e-mails) get this many delivery attempts (app.worker.outbox): each run of
    # the job that raised counts one. An enqueue the broker refused does not (a broker outage is not the
    # message's fault: the row backs off 2 s, 4 s, ... up to 5 min and waits for the broker). After the last
    # attempt the message is failed: logged as an error, audited, listed by `mac outbox fallidos`, never retried
    # by itself again (`mac outbox reintentar`). With the default 10, dramatiq's back-off gives up after about
    # 2 to 4 h for a job that keeps failing (15 s doubling, x1-2 jitter) and 45 to 85 min for an e-mail that
    # never leaves (send_email: 5 s doubling, at most 1 h).
    outbox_max_attempts: int = Field(default=10, ge=1)

    # Platform sealing certificate (PAdES): a PKCS#12 file, or a PEM key + certificate (+ chain).
    # Unset: a demo sealing certificate is generated once under data_dir/sealing and labelled as demo.
    sealing_pkcs12_path: str | None = None
    sealing_pkcs12_password: str | None = None
    sealing_key_path: str | None = None
    sealing_key_password: str | None = None
    sealing_cert_path: str | None = None
    sealing_chain_path: str | None = None
    # RFC 3161 time-stamping authority: the platform's seal is timestamped (PAdES B-LT unless sealing_level).
    tsa_url: str | None = None
    # PAdES level of the platform's seal when a TSA is configured: B-T, B-LT (certificate chain and CRL/OCSP
    # embedded in the DSS: verifiable after the CA's services are gone) or B-LTA (B-LT + a document timestamp
    # over the DSS). Unset: B-LT with TSA_URL. Without a TSA the seal is always B-B (B-LT builds on B-T).
    sealing_level: Literal["B-T", "B-LT", "B-LTA"] | None = None
    # Trust roots for signatures made outside the platform (IOFE / FIRMA PERÚ): PEM/DER files or
    # directories, separated by commas.
    signature_trust_roots: str | None = None

    @model_validator(mode="after")
    def _default_base_url(self) -> Settings:
        self.base_url = (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")
        return self

    @property
    def cookies_secure(self) -> bool:
        if self.secure_cookies is not None:
            return self.secure_cookies
        return self.base_url.startswith("https://")

    def checkpoint_dir(self) -> Path:
        return Path(self.audit_checkpoint_dir) if self.audit_checkpoint_dir else Path(self.data_dir) / "audit_checkpoints"

    def resolved_secret_key(self) -> str:
        """The signing secret: from the environment, else one generated once and kept in data_dir."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()

    def runtime_url(self) -> str:
        """libpq URL of the runtime role."""
        if self.app_database_url:
            return self.app_database_url
        if not self.database_url:
            raise RuntimeError("DATABASE_URL no está definido y no se inició la base embebida")
        return with_credentials(self.database_url, self.runtime_role, self.runtime_password)


def with_credentials(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    if host.count(":") > 1 and not host.startswith("["):  # bare IPv6
        host = f"[{host}]"
    return urlunsplit((parts.scheme, f"{user}:{password}@{host}", parts.path, parts.query, parts.fragment))


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def asyncpg_url(url: str) -> str:
    """SQLAlchemy URL for asyncpg from a libpq URL."""
    scheme, rest = url.split("://", 1)
    return "postgresql+asyncpg://" + rest


def psycopg_url(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest


@lru_cache
def get_settings() -> Settings:
    return Settings()
