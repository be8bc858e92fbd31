"""The domains that plug into the app, the CLI and the demo loader, each through its own module.

A domain that has not landed yet simply has no such module; nothing else needs to know about it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

DOMAINS = ("app.tenants", "app.auth", "app.adhesion", "app.sla", "app.costsharing", "app.billing_reports")


def optional_module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        # Missing: the module itself or a package on its path (``app.tenants.sources.routes``).
        if exc.name != name and not name.startswith(f"{exc.name}."):
            raise
        return None


def domain_modules(suffix: str) -> list[ModuleType]:
    """e.g. domain_modules("routes") → the routes modules of every domain that has one."""
    found = []
    for domain in DOMAINS:
        module = optional_module(f"{domain}.{suffix}")
        if module is not None:
            found.append(module)
    return found
