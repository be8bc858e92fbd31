"""Connectors to the systems the centres actually run: the Novo SGA 1.x/2.x queue databases (with their registry,
service mapping and sync history), the national «detalle de atenciones» export, biometric clocks (ZKTeco) and
MAC Express. Each turns its source's rows into the platform's events and hands them to the one ingest path
(:mod:`app.sla.ingest`), so validation, storage and rollups are shared.
"""
