"""Adhesions (Cláusulas de Adhesión): clause templates, the state machine, signing, verification, schedules.

Map:
  states.py       the transition table (party per step) and the one guard, ``check``; pure
  pdf.py          the clause's PDF layout (reportlab), code + QR + page numbers on every page; pure
  evidence.py     the constancia's PDF layout; pure
  services.py     one function per use case (web, API, CLI, demo and scheduler call these)
  routes.py       pages under /adhesiones (and /adhesiones/plantillas); public /verificar is in app.documents
  api_routes.py   /api/v1/adhesiones
  scheduled.py    run_due_transitions(db, today): start of term, expiry, 60/30/7-day reminders (idempotent)
  cli.py          ``mac adhesiones-programadas [--fecha AAAA-MM-DD]``
  demo.py         demo adhesions at Centro MAC Callao

Signing and verification live in app.documents (shared with the statements): PAdES seal with the key from
SEALING_PKCS12_PATH (+ SEALING_PKCS12_PASSWORD) or SEALING_KEY_PATH + SEALING_CERT_PATH (+ SEALING_CHAIN_PATH,
SEALING_KEY_PASSWORD), else a demo certificate generated once under DATA_DIR/sealing; TSA_URL for a timestamped seal (PAdES
B-LT by default, SEALING_LEVEL for B-T or B-LTA); SIGNATURE_TRUST_ROOTS (files or directories) for signatures made outside the platform.
"""
