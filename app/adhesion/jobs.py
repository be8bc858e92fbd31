"""The adhesion domain's background jobs, found by the worker through app.modules (``jobs`` modules)."""

from app.adhesion.scheduled import adhesion_due_transitions  # noqa: F401  (importing records the job)
