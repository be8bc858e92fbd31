"""What the machine API takes and gives (pydantic), documented in the OpenAPI schema."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, Field


class AttentionEvent(BaseModel):
    """A ticket segment (``tipo: atencion``); the other kinds (``marcacion``, ``encuesta``, ``interrupcion``)
    carry the columns of their CSV (see the upload page). Timestamps ISO-8601 with offset."""

    tipo: Literal["atencion"] = "atencion"
    ticket: str = Field(max_length=40)
    segmento: int = Field(default=1, ge=1, le=99)
    ruc_entidad: str
    servicio: str
    modulo: str | None = None
    asesor: str | None = None
    emitido: str = Field(examples=["2025-03-03T09:00:00-05:00"])
    llamado: str | None = Field(default=None, description="Último llamado si hubo rellamado")
    inicio: str | None = None
    fin: str | None = None
    resultado: Literal["atendido", "abandonado", "derivado"]


class EventBatch(BaseModel):
    centro: uuid.UUID | None = Field(default=None, description="Opcional: por defecto, el centro del cliente")
    eventos: list[dict] = Field(max_length=10_000)


class RowErrorOut(BaseModel):
    linea: int
    campo: str
    motivo: str


class BatchResult(BaseModel):
    lote: uuid.UUID | None
    recibidos: int
    guardados: int
    sin_cambios: int
    rechazados: int
    errores: list[RowErrorOut]
