"""What the platform administrator sends and reads about entities, centres, people and their roles.

Every rule that can be checked without the database lives here, with one Spanish message per field, so the
HTML forms and the JSON API refuse the same input with the same words. Rules that need the database (a
duplicate RUC, the rector entity, a centre administered) live in :mod:`app.tenants.services`.

:func:`parse` is the single door from untrusted input to a schema: it turns pydantic's ``ValidationError``
into :class:`~app.errors.ValidationFailed` (HTTP 422, problem+json ``errores`` with one entry per field),
translating pydantic's English messages into Spanish.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, time
from typing import Annotated, Any, Generic, Literal, TypeVar

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError
from stdnum.pe import ruc as pe_ruc

from app.db import MEMBERSHIP_ROLES, ROLE_LABELS
from app.errors import ValidationFailed

try:  # python-stdnum >= 1.14 knows the CUI (the DNI with its check digit)
    from stdnum.pe import cui as pe_cui
except ImportError:  # pragma: no cover - older stdnum: plain 8-digit check below
    pe_cui = None

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

# ------------------------------------------------------------------------------------- messages ---

RUC_MESSAGE = "El RUC debe tener 11 dígitos y un dígito verificador válido."
DNI_MESSAGE = "El DNI debe tener 8 dígitos (si incluye el dígito de verificación, este debe ser correcto)."
EMAIL_MESSAGE = "Ingrese un correo electrónico válido (por ejemplo, nombre@entidad.gob.pe)."
UBIGEO_MESSAGE = "El ubigeo debe tener 6 dígitos (por ejemplo, 150101)."
CODE_MESSAGE = "Use solo letras, números y guiones, sin espacios (por ejemplo, MAC-LIMA-NORTE)."
REQUIRED_MESSAGE = "Este campo es obligatorio."
CUSTOM = "dato_invalido"  # the error type of our own (already Spanish) messages

WEEKDAYS = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")
KIND_LABELS = {"publica": "Pública", "privada": "Privada"}
LEVEL_LABELS = {"nacional": "Nacional", "regional": "Regional", "local": "Local"}
CHANNEL_LABELS = {"centro_mac": "Centro MAC", "mac_express": "MAC Express"}
MODULE_KIND_LABELS = {"fijo": "Fijo", "virtual": "Virtual"}


def _refuse(message: str) -> PydanticCustomError:
    return PydanticCustomError(CUSTOM, message)


def _spanish(error: dict[str, Any]) -> str:
    """Pydantic's error, said in Spanish (our own custom errors already are)."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == CUSTOM:
        return error["msg"]
    if kind == "missing" or error.get("input") is None:  # an untouched field or select, or an explicit null
        return REQUIRED_MESSAGE
    if kind == "string_too_short":
        return REQUIRED_MESSAGE if ctx.get("min_length") == 1 else f"Debe tener al menos {ctx.get('min_length')} caracteres."
    if kind == "too_short":
        return "Elija al menos un día." if error.get("loc") == ("weekdays",) else "Elija al menos una opción."
    if kind == "string_too_long":
        return f"Debe tener como máximo {ctx.get('max_length')} caracteres."
    if kind == "literal_error":
        return f"Elija una opción válida ({str(ctx.get('expected', '')).replace(' or ', ' o ')})."
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "Ingrese un número entero."
    if kind == "greater_than_equal":
        return f"Debe ser mayor o igual a {ctx.get('ge')}."
    if kind == "less_than_equal":
        return f"Debe ser menor o igual a {ctx.get('le')}."
    if kind.startswith("date"):
        return "Ingrese una fecha válida (aaaa-mm-dd)."
    if kind.startswith("time"):
        return "Ingrese una hora válida (hh:mm)."
    if kind.startswith("uuid"):
        return "Seleccione un registro válido."
    if kind.startswith("bool"):
        return "Indique sí o no."
    if kind == "list_type":
        return "Elija al menos una opción."
    if kind == "extra_forbidden":
        return "Campo no reconocido."
    if kind == "string_type":
        return "Ingrese un texto."
    return "El valor no es válido."


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    """One Spanish message per field (the first problem found), in the order of the schema's fields."""
    seen: dict[str, str] = {}
    for error in exc.errors():
        location = error.get("loc") or ()
        name = str(location[0]) if location else "general"
        seen.setdefault(name, _spanish(error))
    return [{"campo": name, "mensaje": message} for name, message in seen.items()]


def validation_failed(exc: ValidationError) -> ValidationFailed:
    errors = field_errors(exc)
    only = errors[0]["campo"] if len(errors) == 1 else None
    return ValidationFailed("Revise los datos marcados: hay campos con errores.", field=only, errors=errors)


def parse(model: type[M], data: Any) -> M:
    """Validate untrusted input into ``model``; a :class:`ValidationFailed` (422) with Spanish messages if not."""
    if not isinstance(data, dict):
        raise ValidationFailed("El cuerpo de la solicitud debe ser un objeto JSON.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_failed(exc) from None


# ----------------------------------------------------------------------------------- field types ---


def _blank_to_none(value: Any) -> Any:
    """Forms send empty strings for untouched optional fields: they mean "nothing"."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _check_ruc(value: str) -> str:
    compact = pe_ruc.compact(value)
    if not pe_ruc.is_valid(compact):
        raise _refuse(RUC_MESSAGE)
    return compact


def _check_dni(value: str) -> str:
    """The DNI is stored as its 8 digits; a 9th character is accepted only as a correct CUI check digit."""
    compact = re.sub(r"[\s-]", "", value)
    if pe_cui is not None:
        valid = len(compact) in (8, 9) and compact[:8].isdigit() and pe_cui.is_valid(compact)
    else:  # pragma: no cover
        valid = len(compact) == 8 and compact.isdigit()
    if not valid:
        raise _refuse(DNI_MESSAGE)
    return compact[:8]


def _check_email(value: str) -> str:
    """Addresses are compared case-insensitively at sign-in, so they are stored in lower case."""
    try:
        checked = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError:
        raise _refuse(EMAIL_MESSAGE) from None
    return checked.normalized.lower()


def _check_ubigeo(value: str) -> str:
    if not re.fullmatch(r"[0-9]{6}", value):
        raise _refuse(UBIGEO_MESSAGE)
    return value


def _check_code(value: str) -> str:
    code = value.upper()
    if not re.fullmatch(r"[A-Z0-9][A-Z0-9_-]*", code):
        raise _refuse(CODE_MESSAGE)
    return code


def Text(max_length: int) -> Any:  # noqa: N802 - reads as a type in the schemas below
    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)]


Ruc = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1), AfterValidator(_check_ruc)]
Dni = Annotated[str, AfterValidator(_check_dni)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=254),
                  AfterValidator(_check_email)]
Ubigeo = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1), AfterValidator(_check_ubigeo)]


def Code(max_length: int) -> Any:  # noqa: N802
    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length),
                     AfterValidator(_check_code)]


BlankIsNone = BeforeValidator(_blank_to_none)
EntityKind = Literal["publica", "privada"]
GovernmentLevel = Literal["nacional", "regional", "local"]
Channel = Literal["centro_mac", "mac_express"]
ModuleKind = Literal["fijo", "virtual"]
Role = Literal["gestor_entidad", "finanzas", "coordinador_centro", "supervisor_sgp", "administrador_plataforma"]
assert set(Role.__args__) == set(MEMBERSHIP_ROLES)  # one list of roles: app.db's


class Input(BaseModel):
    """Input schemas refuse unknown fields: a typo (or an ``is_rector`` smuggled in) is an error, not a no-op."""

    model_config = ConfigDict(extra="forbid")


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# ------------------------------------------------------------------------------------- entities ---


class EntityCreate(Input):
    ruc: Ruc
    name: Text(200)
    short_name: Text(60)
    kind: EntityKind
    level: Annotated[GovernmentLevel | None, BlankIsNone, Field(validate_default=True)] = None

    @field_validator("level")
    @classmethod
    def _level_matches_kind(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Only public entities belong to a level of government (nacional, regional, local)."""
        kind = info.data.get("kind")
        if kind == "publica" and value is None:
            raise _refuse("Indique el nivel de gobierno de la entidad pública.")
        if kind == "privada" and value is not None:
            raise _refuse("Una entidad privada no tiene nivel de gobierno: deje este campo vacío.")
        return value


class EntityUpdate(Input):
    """A partial change: only the fields sent are changed; the result must still be a valid entity."""

    ruc: Ruc | None = None
    name: Text(200) | None = None
    short_name: Text(60) | None = None
    kind: EntityKind | None = None
    level: Annotated[GovernmentLevel | None, BlankIsNone] = None


class EntityRead(Output):
    id: uuid.UUID
    ruc: str
    name: str
    short_name: str
    kind: str
    level: str | None
    is_rector: bool
    is_active: bool
    is_demo: bool
    created_at: datetime
    centres_administered: int = 0

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def level_label(self) -> str:
        return LEVEL_LABELS.get(self.level or "", "—")


# -------------------------------------------------------------------------------------- centres ---


class CentreCreate(Input):
    name: Text(120)
    code: Code(30)
    channel: Channel
    address: Text(250)
    ubigeo: Ubigeo
    administering_entity_id: uuid.UUID
    opened_on: Annotated[date | None, BlankIsNone] = None


class CentreUpdate(Input):
    name: Text(120) | None = None
    code: Code(30) | None = None
    channel: Channel | None = None
    address: Text(250) | None = None
    ubigeo: Ubigeo | None = None
    administering_entity_id: uuid.UUID | None = None
    opened_on: Annotated[date | None, BlankIsNone] = None


class CentreRead(Output):
    id: uuid.UUID
    code: str
    name: str
    channel: str
    address: str
    ubigeo: str
    administering_entity_id: uuid.UUID
    administering_entity_name: str = ""
    opened_on: date | None
    is_active: bool
    is_demo: bool

    @property
    def channel_label(self) -> str:
        return CHANNEL_LABELS.get(self.channel, self.channel)


class OpeningHoursSet(Input):
    """Hours for one or more weekdays, in force from ``valid_from`` until a later row supersedes them.

    Several weekdays at once because centres keep the same hours Monday to Friday (practice).
    """

    weekdays: Annotated[list[Annotated[int, Field(ge=0, le=6)]], Field(min_length=1, validate_default=True)] = []
    opens_at: time
    closes_at: time
    valid_from: date

    @field_validator("weekdays", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        if value is None or value == "":
            return []
        return value if isinstance(value, list) else [value]

    @field_validator("weekdays")
    @classmethod
    def _distinct(cls, value: list[int]) -> list[int]:
        return sorted(set(value))

    @field_validator("closes_at")
    @classmethod
    def _closes_after_opening(cls, value: time, info: ValidationInfo) -> time:
        opens = info.data.get("opens_at")
        if opens is not None and value <= opens:
            raise _refuse("La hora de cierre debe ser posterior a la de apertura.")
        return value


class OpeningHoursRead(Output):
    id: uuid.UUID
    weekday: int
    opens_at: time
    closes_at: time
    valid_from: date
    status: Literal["vigente", "programado", "reemplazado"] = "vigente"

    @property
    def weekday_label(self) -> str:
        return WEEKDAYS[self.weekday]


class ModuleCreate(Input):
    code: Code(20)
    kind: ModuleKind = "fijo"
    area_m2: Annotated[Annotated[int, Field(ge=0)] | None, BlankIsNone] = None


class ModuleRead(Output):
    id: uuid.UUID
    code: str
    kind: str
    area_m2: int | None
    is_active: bool


class ServiceCreate(Input):
    entity_id: uuid.UUID
    code: Code(30)
    name: Text(200)


class ServiceRead(Output):
    id: uuid.UUID
    entity_id: uuid.UUID
    entity_name: str = ""
    code: str
    name: str
    is_active: bool


class CentreDetail(CentreRead):
    """A centre with its hours (every row, so the history shows), modules and services."""

    hours: list[OpeningHoursRead] = []
    modules: list[ModuleRead] = []
    services: list[ServiceRead] = []

    @property
    def hours_in_force(self) -> list[OpeningHoursRead]:
        return [h for h in self.hours if h.status == "vigente"]


# ------------------------------------------------------------------------------ people and roles ---


class UserCreate(Input):
    email: Email
    full_name: Text(200)
    dni: Annotated[Dni | None, BlankIsNone] = None


class UserUpdate(Input):
    email: Email | None = None
    full_name: Text(200) | None = None
    dni: Annotated[Dni | None, BlankIsNone] = None


class MembershipCreate(Input):
    user_id: uuid.UUID
    entity_id: uuid.UUID
    role: Role


class MembershipRead(Output):
    id: uuid.UUID
    user_id: uuid.UUID
    entity_id: uuid.UUID
    entity_name: str = ""
    role: str
    is_active: bool
    created_at: datetime

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)


class UserRead(Output):
    id: uuid.UUID
    email: str
    full_name: str
    dni: str | None
    is_active: bool
    is_demo: bool
    last_login_at: datetime | None
    created_at: datetime
    memberships: list[MembershipRead] = []

    @property
    def active_memberships(self) -> list[MembershipRead]:
        return [m for m in self.memberships if m.is_active]


class UserCreated(BaseModel):
    """A new account and the one-time link (also e-mailed) with which its owner chooses a password."""

    user: UserRead
    set_password_url: str
    link_expires_hours: int


class Listing(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))
