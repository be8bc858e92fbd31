"""Benchmarks print their figures only: the app's request and library logs go to warnings and above."""

from __future__ import annotations

import logging


def quiet() -> None:
    """Call after the app is built (``create_app`` configures logging at INFO) and before the first request."""
    from app.logging import configure_logging

    configure_logging(level=logging.WARNING)
    logging.getLogger().setLevel(logging.WARNING)
