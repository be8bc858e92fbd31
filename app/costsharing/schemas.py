"""Pydantic shapes of the cost sharing API (amounts as decimal strings: Money is Decimal, never float)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field


class PeriodRead(BaseModel):
    id: uuid.UUID
    centro: str
    desde: date
    hasta: date
    estado: str
    metodologia: str | None
    hash_entradas: str | None
    observaciones_hasta: date | None
    total_costos: Decimal


class LineRead(BaseModel):
    tipo: str = Field(description="reparto (de un ítem del periodo) o ajuste (corrección de un periodo cerrado)")
    ruc: str
    entidad: str
    categoria: str
    descripcion: str
    monto_item: Decimal
    monto: Decimal
    participacion: str = Field(description="Participación exacta, racional «p/q»")
    monto_exacto: str = Field(description="Monto exacto en soles, racional «p/q»")
    centimo_adicional: bool
    derivacion: dict[str, Any]


class UnallocatedRead(BaseModel):
    categoria: str
    monto: Decimal
    motivo: str


class AllocationRead(BaseModel):
    periodo: PeriodRead
    lineas: list[LineRead]
    totales_por_entidad: dict[str, Decimal]
    total_lineas: Decimal
    no_distribuido: list[UnallocatedRead]
