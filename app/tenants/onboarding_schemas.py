"""Onboarding rules that need no database: the forms, the registration state machine, the PDF check, tokens.

Everything here is pure (no I/O) so the web, the CLI and the tests share the same rules and the same Spanish
messages. RUC, DNI, e-mail and ubigeo are the administrator's field types (:mod:`app.tenants.schemas`): RUCs by
python-stdnum's ``pe.ruc`` (check digit), DNIs by ``pe.cui`` (8 digits, or 9 with a correct CUI check digit).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints, ValidationError

from app.auth.passwords import token_hash  # noqa: F401  (one definition; re-exported for this domain)
from app.db import ROLE_COORDINADOR, ROLE_FINANZAS, ROLE_GESTOR, ROLE_SUPERVISOR_SGP
from app.errors import Conflict, Forbidden, ValidationFailed
from app.tenants.schemas import CUSTOM, REQUIRED_MESSAGE, Dni, Email, Ruc, Ubigeo

# ------------------------------------------------------------------------------------------ messages ---


KIND_LABELS = {"publica": "Pública", "privada": "Privada"}
LEVEL_LABELS = {"nacional": "Nacional", "regional": "Regional", "local": "Local"}
STATE_LABELS = {
    "pendiente_verificacion_correo": "Pendiente de verificación del correo",
    "enviada": "Enviada",
    "en_revision": "En revisión",
    "observada": "Observada",
    "aprobada": "Aprobada",
    "rechazada": "Rechazada",
}
CHANGE_STATE_LABELS = {"pendiente": "Pendiente", "aprobada": "Aprobada", "rechazada": "Rechazada"}
INVITATION_STATE_LABELS = {"vigente": "Pendiente", "usada": "Aceptada", "vencida": "Vencida",
                           "revocada": "Revocada"}

# Invitations and links.
INVITATION_HOURS = 72
CONFIRMATION_HOURS = 48  # an unconfirmed registration link stops working after this

# Uploaded documents: PDF only.
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
PDF_MAGIC = b"%PDF-"
PDF_CONTENT_TYPES = ("application/pdf", "application/x-pdf")

# Who may contact whom when a RUC is already registered: never the other account's details.
CONTACT_MESSAGE = ("Si usted actúa por esta entidad, comuníquese con el gestor o la gestora de su entidad en la "
                   "Plataforma MAC, o con la mesa de ayuda de la Secretaría de Gestión Pública (SGP) de la PCM.")


def _spanish(error: dict[str, Any]) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == CUSTOM:
        return error["msg"]
    if kind == "missing" or kind == "string_too_short" and ctx.get("min_length") == 1:
        return REQUIRED_MESSAGE
    if kind == "string_too_short":
        return f"Debe tener al menos {ctx.get('min_length')} caracteres."
    if kind == "string_too_long":
        return f"Debe tener como máximo {ctx.get('max_length')} caracteres."
    if kind == "literal_error":
        return "Elija una opción de la lista."
    if kind == "string_type":
        return REQUIRED_MESSAGE if error.get("input") is None else "Ingrese un texto."
    return "El valor no es válido."


def parse(model: type[BaseModel], data: dict[str, Any]) -> Any:
    """Untrusted form input → ``model``, or ValidationFailed with one Spanish message per field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            loc = error.get("loc") or ("general",)
            errors.setdefault(str(loc[0]), _spanish(error))
        raise ValidationFailed("Revise los datos marcados: hay campos con errores.",
                               errors=[{"campo": k, "mensaje": v} for k, v in errors.items()]) from None


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _text(max_length: int) -> Any:
    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)]


def _optional_text(max_length: int) -> Any:
    """Blank means nothing; otherwise at most ``max_length`` characters."""
    return Annotated[Annotated[str, StringConstraints(strip_whitespace=True, max_length=max_length)] | None,
                     BeforeValidator(_blank_to_none)]


class _Form(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class EntityData(_Form):
    entity_name: _text(200)
    short_name: _text(60)
    kind: Literal["publica", "privada"]
    level: Annotated[Literal["nacional", "regional", "local"] | None, BeforeValidator(_blank_to_none)] = None
    address: _text(250)
    ubigeo: Ubigeo
    applicant_dni: Dni
    applicant_name: _text(200)
    applicant_position: _text(120)


class RegistrationCreate(EntityData):
    """The public registration form."""

    ruc: Ruc
    applicant_email: Email


class RegistrationCorrection(EntityData):
    """What an applicant may correct after an observation (not the RUC nor the e-mail: those identify it)."""


class InvitationCreate(_Form):
    email: Email
    role: Literal["gestor_entidad", "finanzas", "coordinador_centro"]


class InvitationAccept(_Form):
    full_name: _text(200)
    dni: Annotated[Dni | None, BeforeValidator(_blank_to_none)] = None


class ProfileChangeCreate(_Form):
    name: _text(200)
    short_name: _text(60)
    address: _optional_text(250) = None
    ubigeo: Annotated[Ubigeo | None, BeforeValidator(_blank_to_none)] = None
    representative_name: _optional_text(200) = None
    representative_dni: Annotated[Dni | None, BeforeValidator(_blank_to_none)] = None
    representative_position: _optional_text(120) = None
    justification: _text(2000)


# ----------------------------------------------------------------------------- the state machine ---

APPLICANT = "solicitante"
SGP = ROLE_SUPERVISOR_SGP

# (from, to) → who may make the move. The only place the registration's transitions are decided.
TRANSITIONS: dict[tuple[str, str], frozenset[str]] = {
    ("pendiente_verificacion_correo", "enviada"): frozenset({APPLICANT}),
    ("enviada", "en_revision"): frozenset({SGP}),
    ("en_revision", "observada"): frozenset({SGP}),
    ("observada", "enviada"): frozenset({APPLICANT}),
    ("en_revision", "aprobada"): frozenset({SGP}),
    ("en_revision", "rechazada"): frozenset({SGP}),
}
# Moves that must say why.
NEEDS_REASON = {("en_revision", "observada"), ("en_revision", "rechazada")}


def check_transition(current: str, target: str, who: str, reason: str | None = None) -> None:
    """Refuse an illegal move with a message that says what is possible instead."""
    allowed = TRANSITIONS.get((current, target))
    if allowed is None:
        raise Conflict(f"Una solicitud en estado «{STATE_LABELS.get(current, current)}» no puede pasar a "
                       f"«{STATE_LABELS.get(target, target)}».", code="transicion_invalida")
    if who not in allowed:
        raise Forbidden("Su rol no puede realizar este paso de la solicitud.")
    if (current, target) in NEEDS_REASON and not (reason or "").strip():
        raise ValidationFailed("Indique el motivo: el solicitante lo leerá en el correo y en su solicitud.",
                               field="motivo")


def roles_for(administers_centre: bool) -> tuple[str, ...]:
    """The roles an entity's manager may give: coordinador_centro only in an entity that runs a centre."""
    return (ROLE_GESTOR, ROLE_FINANZAS, ROLE_COORDINADOR) if administers_centre else (ROLE_GESTOR, ROLE_FINANZAS)


# ------------------------------------------------------------------------------------- documents ---


@dataclass(frozen=True)
class CheckedDocument:
    filename: str
    content_type: str
    content: bytes
    sha256: str

    @property
    def size(self) -> int:
        return len(self.content)


def check_pdf(filename: str | None, content_type: str | None, content: bytes | None) -> CheckedDocument:
    """A designation document: a PDF (by its first bytes and its declared type), not empty, at most 5 MB."""
    if not content:
        raise ValidationFailed("Adjunte el documento de designación (resolución o carta) en PDF.", field="documento")
    if len(content) > MAX_DOCUMENT_BYTES:
        raise ValidationFailed(
            f"El documento pesa {len(content) / 1024 / 1024:.1f} MB; el máximo permitido es "
            f"{MAX_DOCUMENT_BYTES // (1024 * 1024)} MB.", field="documento", code="documento_muy_grande")
    declared = (content_type or "").split(";")[0].strip().lower()
    if not content.startswith(PDF_MAGIC) or declared not in PDF_CONTENT_TYPES:
        raise ValidationFailed("El documento debe ser un archivo PDF.", field="documento",
                               code="documento_no_pdf")
    name = re.sub(r"[^\w.\- ]", "_", (filename or "documento.pdf").rsplit("/", 1)[-1].rsplit("\\", 1)[-1])[:200]
    return CheckedDocument(filename=name or "documento.pdf", content_type="application/pdf", content=content,
                           sha256=hashlib.sha256(content).hexdigest())


# ---------------------------------------------------------------------------------------- tokens ---



def registration_token(secret: str, registration_id: Any, salt: str) -> str:
    """The applicant's link token: derivable by the server (so every e-mail can carry the link) but not from
    the database alone (it needs the secret key); the database keeps only its SHA-256."""
    mac = hmac.new(secret.encode(), f"registro:{registration_id}:{salt}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


# Demo mailbox tickets: "show the mails to <address> that carry the link whose token hashes to <marker>".
TICKET_DAYS = 7


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def mailbox_ticket(secret: str, address: str, marker: str, *, now: float | None = None) -> str:
    payload = _b64(json.dumps({"a": address.lower(), "m": marker,
                               "x": int((now or time.time()) + TICKET_DAYS * 86400)}).encode())
    signature = _b64(hmac.new(secret.encode(), f"buzon:{payload}".encode(), hashlib.sha256).digest())
    return f"{payload}.{signature}"


def read_mailbox_ticket(secret: str, ticket: str, *, now: float | None = None) -> tuple[str, str] | None:
    """(address, marker) of a genuine, unexpired ticket; None otherwise."""
    try:
        payload, signature = ticket.split(".", 1)
        expected = _b64(hmac.new(secret.encode(), f"buzon:{payload}".encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(expected, signature):
            return None
        data = json.loads(_unb64(payload))
        if int(data["x"]) < (now or time.time()):
            return None
        return str(data["a"]), str(data["m"])
    except (ValueError, KeyError, TypeError):
        return None


LINK_TOKEN = re.compile(r"/(?:registro/solicitud|invitacion)/([A-Za-z0-9_\-]{20,})")


def mail_markers(body: str) -> set[str]:
    """The hashes of the onboarding link tokens a mail carries (what a mailbox ticket is matched against)."""
    return {token_hash(t) for t in LINK_TOKEN.findall(body or "")}
