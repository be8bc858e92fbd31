"""Periodic jobs are sent at most once per period, whichever and however many workers are running."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from app.worker.broker import WorkerRuntime
from app.worker.schedule import claim_due


def test_a_periodic_job_is_claimed_once_per_period(settings):
    runtime = WorkerRuntime(settings)
    name = f"prueba_{uuid.uuid4().hex[:8]}"
    try:
        assert claim_due(runtime, {name: 3600}) == [name]
        assert claim_due(runtime, {name: 3600}) == []  # not due again within the hour
        assert claim_due(runtime, {name: 0}) == [name]  # a zero period is always due
    finally:
        runtime.dispose()


def test_two_workers_ticking_together_never_both_send(settings):
    runtimes = [WorkerRuntime(settings) for _ in range(4)]
    name = f"prueba_{uuid.uuid4().hex[:8]}"
    try:
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda r: claim_due(r, {name: 3600}), runtimes))
        assert sorted(len(r) for r in results) == [0, 0, 0, 1]
    finally:
        for r in runtimes:
            r.dispose()


def test_the_domains_periodic_work_is_scheduled():
    from app.worker.schedule import periodic_jobs

    jobs = periodic_jobs()
    assert jobs["reconcile_statements"] == 600  # statements that should exist and do not
    assert jobs["adhesion_due_transitions"] == 3600  # start of term, expiry, reminders
    assert jobs["sla_evaluate_alerts"] == 900
    assert jobs["sla_close_previous_month"] == 3600
