"""The service mapping of a Novo source: which entity's service a Novo service stands for on a given day, and
the rules a new version must keep. Pure: no database.

- A Novo service (``servicos.id``) maps to one entity's service; with ``includes_children`` it also stands for
  the services whose ``macro_id`` is it, unless a child has a mapping of its own in force.
- Versions: a new mapping of a Novo service starts after the one in force, which is closed the day before.
- Refused: a Novo service standing for two entities at once (itself, or through its macro service); an
  entity's service mapped from two Novo services at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta


@dataclass(frozen=True)
class MapEntry:
    novo_service_id: int
    includes_children: bool
    entity_id: uuid.UUID
    ruc: str
    service_code: str
    valid_from: date
    valid_to: date | None = None
    version: int = 1

    def in_force(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def overlaps(self, start: date, end: date | None) -> bool:
        return (self.valid_to is None or start <= self.valid_to) and (end is None or self.valid_from <= end)


class MappingRefused(ValueError):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message, self.field = message, field


def resolve(entries: Iterable[MapEntry], macro_of: dict[int, int | None], servico_id: int,
            day: date) -> MapEntry | None:
    """The mapping in force for a row of ``servico_id`` arrived on ``day``: its own, else its macro service's
    when that one includes its children."""
    entries = list(entries)
    own = [e for e in entries if e.novo_service_id == servico_id and e.in_force(day)]
    if own:
        return own[0]
    macro = macro_of.get(servico_id)
    if macro is None:
        return None
    return next((e for e in entries if e.novo_service_id == macro and e.includes_children and e.in_force(day)),
                None)


def add_version(entries: list[MapEntry], new: MapEntry, macro_of: dict[int, int | None],
                names: dict[int, str] | None = None) -> tuple[MapEntry | None, MapEntry]:
    """Check ``new`` against the mapping; returns (the version it closes or None, ``new`` with its version).

    Raises MappingRefused with a Spanish message and the form field concerned."""
    names = names or {}

    def label(service_id: int) -> str:
        return f"{service_id} «{names[service_id]}»" if service_id in names else str(service_id)

    same = sorted((e for e in entries if e.novo_service_id == new.novo_service_id), key=lambda e: e.valid_from)
    closed: MapEntry | None = None
    if same:
        last = same[-1]
        if new.valid_from <= last.valid_from:
            raise MappingRefused(f"El servicio {label(new.novo_service_id)} ya tiene un mapeo desde "
                                 f"{last.valid_from:%d/%m/%Y}: la nueva versión debe empezar después.", "desde")
        if (last.entity_id, last.service_code, last.includes_children) == (
                new.entity_id, new.service_code, new.includes_children):
            raise MappingRefused(f"El servicio {label(new.novo_service_id)} ya está mapeado así.", "servicio")
        if last.valid_to is None or last.valid_to >= new.valid_from:
            closed = replace(last, valid_to=new.valid_from - timedelta(days=1))
    others = [e for e in entries if e.novo_service_id != new.novo_service_id
              and e.overlaps(new.valid_from, new.valid_to)]
    for other in others:
        # Through a macro service: a child standing for one entity and its macro (with children) for another.
        child_of_other = macro_of.get(new.novo_service_id) == other.novo_service_id and other.includes_children
        other_child = macro_of.get(other.novo_service_id) == new.novo_service_id and new.includes_children
        if (child_of_other or other_child) and other.entity_id != new.entity_id:
            raise MappingRefused(
                f"El servicio {label(new.novo_service_id)} quedaría mapeado a dos entidades: "
                f"{'su servicio agrupador' if child_of_other else 'su subservicio'} "
                f"{label(other.novo_service_id)} ya es de la entidad {other.ruc}.", "servicio_novo")
    for other in others:
        if (other.entity_id, other.service_code) == (new.entity_id, new.service_code):
            raise MappingRefused(
                f"El servicio {new.service_code} de la entidad {new.ruc} ya está mapeado desde el servicio "
                f"{label(other.novo_service_id)} de Novo (desde {other.valid_from:%d/%m/%Y}).", "servicio")
    return closed, replace(new, version=(same[-1].version + 1) if same else 1)
