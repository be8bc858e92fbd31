"""Benchmarks print their figures only: the app's request and library logs go to warnings and above."""

from __future__ import annotations

import logging
import warnings


def quiet() -> None:
    """Call after the app is built (``create_app`` configures logging at INFO) and before the first request;
    calling it first too also silences the libraries' warnings at import."""
    from app.logging import configure_logging

    warnings.simplefilter("ignore")

    configure_logging(level=logging.WARNING)
    logging.getLogger().setLevel(logging.WARNING)
