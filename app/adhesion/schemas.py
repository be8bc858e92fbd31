"""Pydantic shapes for the adhesion API and the forms (same validation both ways)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator


# List fields have a count limit like every text field has a length limit: the clause PDF lists them all.
MAX_SERVICES = 200
MAX_ANS_LINES = 200
MAX_CHECKLIST_ITEMS = 50


class ServiceLine(BaseModel):
    code: str = Field(min_length=1, max_length=30)
    name: str = Field(min_length=3, max_length=200)


class AnsLine(BaseModel):
    service: str = Field(min_length=1, max_length=200)
    max_wait: int = Field(ge=0, le=120, description="Espera máxima en minutos (0–120)")
    max_attention: int = Field(ge=0, le=180, description="Atención máxima en minutos (0–180)")
    target: Decimal = Field(ge=0, le=100, description="Meta de cumplimiento en %")


class AdhesionCreate(BaseModel):
    centre_id: uuid.UUID
    services: list[ServiceLine] = Field(min_length=1, max_length=MAX_SERVICES)
    ans: list[AnsLine] = Field(default_factory=list, max_length=MAX_ANS_LINES)
    modules: int = Field(ge=1, le=100)
    area_m2: Decimal = Field(ge=0, le=10000, decimal_places=2)
    monthly_fee: Decimal = Field(ge=0, le=10_000_000, decimal_places=2)
    cofinancing: str = Field(default="", max_length=2000)
    term_months: int = Field(default=24, ge=1, le=120)
    contact_name: str = Field(default="", max_length=200)
    contact_email: str = Field(default="", max_length=254)

    @field_validator("services")
    @classmethod
    def distinct_codes(cls, value: list[ServiceLine]) -> list[ServiceLine]:
        codes = [s.code for s in value]
        if len(set(codes)) != len(codes):
            raise ValueError("Hay servicios con el mismo código")
        return value


class AdhesionUpdate(AdhesionCreate):
    centre_id: uuid.UUID | None = None  # the centre cannot change once the draft exists


class TransitionRequest(BaseModel):
    accion: str = Field(description="Acción de la tabla de transiciones, p. ej. evaluar, observar, derivar_sgp")
    motivo: str | None = Field(default=None, max_length=5000)
    lista_verificacion: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list,
                                                                             max_length=MAX_CHECKLIST_ITEMS)


class PlatformSignatureRequest(BaseModel):
    contrasena: str = Field(description="Su contraseña, de nuevo: la firma exige volver a autenticarse")
    fecha_inicio: date | None = Field(default=None, description="Solo al aceptar: inicio de la vigencia")
    plazo_meses: int | None = Field(default=None, ge=1, le=120)


class EventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    at: datetime
    action: str
    from_state: str | None
    to_state: str | None
    actor_name: str
    actor_role: str
    actor_entity_name: str | None
    auth_method: str | None
    comment: str | None


class AdhesionRead(BaseModel):
    id: uuid.UUID
    estado: str
    estado_texto: str
    entidad: str
    ruc_entidad: str
    centro: str
    entidad_administradora: str
    servicios: list[ServiceLine]
    modulos: int
    area_m2: Decimal
    importe_locacion: Decimal
    plazo_meses: int
    fecha_inicio: date | None
    fecha_fin: date | None
    codigo_documento: str | None
    version_documento: int
    acciones_disponibles: list[str]
    eventos: list[EventRead] = Field(default_factory=list)


class AdhesionSummary(BaseModel):
    id: uuid.UUID
    estado: str
    estado_texto: str
    entidad: str
    centro: str
    fecha_fin: date | None
    actualizado: datetime
