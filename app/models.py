"""Imports every domain's tables so that Alembic and the catalogue tests see the whole schema."""

from app import audit_models  # noqa: F401
from app.adhesion import models as adhesion_models  # noqa: F401
from app.auth import models as auth_models  # noqa: F401
from app.billing_reports import models as billing_reports_models  # noqa: F401
from app.billing_reports import payment_models  # noqa: F401
from app.costsharing import models as costsharing_models  # noqa: F401
from app.db import Base
from app.documents import models as documents_models  # noqa: F401
from app.sla import models as sla_models  # noqa: F401
from app.sla.sources import models as sla_sources_models  # noqa: F401
from app import stores as shared_store_models  # noqa: F401
from app.tenants import models as tenants_models  # noqa: F401
from app.tenants import onboarding_models  # noqa: F401
from app.worker import models as worker_models  # noqa: F401

metadata = Base.metadata
