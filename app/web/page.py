"""`Page`: a Jinja template response whose context always carries the request's actor."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Request
from litestar.response import Template

from app.web.navigation import nav_items

LIMA = ZoneInfo("America/Lima")


class Page(Template):
    def create_template_context(self, request: Request) -> dict[str, Any]:
        context = super().create_template_context(request)
        context.setdefault("actor", request.scope.get("state", {}).get("actor"))
        return context


def hora_lima(value: datetime | None) -> str:
    """A timestamp as people in Peru read it: dd/mm/aaaa hh:mm in Lima time."""
    if value is None:
        return ""
    return value.astimezone(LIMA).strftime("%d/%m/%Y %H:%M")


def soles(value: Decimal | int | None) -> str:
    """S/ 1,234.56 — amounts as Peruvian finance offices write them."""
    if value is None:
        return ""
    amount = Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"S/ {amount:,.2f}"


def configure_jinja(environment) -> None:  # noqa: ANN001
    environment.globals["nav_items"] = nav_items
    environment.filters["hora_lima"] = hora_lima
    environment.filters["soles"] = soles
