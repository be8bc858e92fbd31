"""Factories for tenants and their people: each call makes new, valid, unique data."""

from __future__ import annotations

import itertools
import random
import uuid
from dataclasses import dataclass

import pytest

from app.db import Database, TenantContext
from app.tenants.models import Centre, Entity, Membership, User

_counter = itertools.count(1)


def valid_ruc(prefix: str = "20") -> str:
    """A RUC with a correct check digit (python-stdnum's algorithm), random enough not to collide."""
    from stdnum.pe import ruc

    while True:
        body = prefix + "".join(random.choice("0123456789") for _ in range(8))
        candidate = body + ruc.calc_check_digit(body)
        if ruc.is_valid(candidate):
            return candidate


def valid_dni() -> str:
    return "".join(random.choice("0123456789") for _ in range(8))


@dataclass
class Tenant:
    entity: Entity
    users: dict[str, User]  # role -> user
    centre: Centre | None = None

    def ctx(self, role: str) -> TenantContext:
        return TenantContext(role=role, entity_id=self.entity.id, user_id=self.users[role].id)


class TenantFactory:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, *, roles: tuple[str, ...] = ("gestor_entidad", "finanzas"), with_centre: bool = False,
                     name: str | None = None, password_hash: str | None = None) -> Tenant:
        n = next(_counter)
        async with self.db.transaction(TenantContext.system()) as s:
            entity = Entity(ruc=valid_ruc(), name=name or f"Entidad de prueba {n} {uuid.uuid4().hex[:6]}",
                            short_name=f"EP{n}", kind="publica", level="nacional", is_demo=True)
            s.add(entity)
            await s.flush()
            users = {}
            for role in roles:
                user = User(email=f"{role}.{n}.{uuid.uuid4().hex[:8]}@prueba.gob.pe", full_name=f"{role} {n}",
                            password_hash=password_hash, is_demo=True)
                s.add(user)
                await s.flush()
                s.add(Membership(user_id=user.id, entity_id=entity.id, role=role))
                users[role] = user
            centre = None
            if with_centre:
                centre = Centre(code=f"PRUEBA-{n}-{uuid.uuid4().hex[:6]}", name=f"Centro MAC Prueba {n}",
                                channel="centro_mac", address="Av. Prueba 123", ubigeo="150101",
                                administering_entity_id=entity.id, is_demo=True)
                s.add(centre)
                await s.flush()
        return Tenant(entity=entity, users=users, centre=centre)


@pytest.fixture
def tenants(db: Database) -> TenantFactory:
    return TenantFactory(db)
