"""The adhesion state machine as data: one table of transitions, each with the party allowed to take it.

Everything that changes an adhesion's state goes through :func:`check`, the one place where the table and
the actor's part in the adhesion are compared. The two gates of the SGP (the prior favourable opinion before
acceptance, and before an early termination) are rows whose only party is ``sgp``; no other row leads into
``opinion_favorable``, ``aceptada`` (except from ``opinion_favorable``) or ``terminada``. The database
repeats the gate as a trigger (migration 0003), so not even a bug in a route can skip it.

Pure module: no database, no web.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from app.errors import Conflict, Forbidden

# --- States ---------------------------------------------------------------------------------------------
BORRADOR = "borrador"
PRESENTADA = "presentada"
EN_EVALUACION = "en_evaluacion"
OBSERVADA = "observada"
PENDIENTE_OPINION_SGP = "pendiente_opinion_sgp"
OPINION_FAVORABLE = "opinion_favorable"
OPINION_DESFAVORABLE = "opinion_desfavorable"
RECHAZADA = "rechazada"
ACEPTADA = "aceptada"
VIGENTE = "vigente"
SUSPENDIDA = "suspendida"
VENCIDA = "vencida"
RENOVADA = "renovada"
TERMINACION_EN_TRAMITE = "terminacion_en_tramite"
TERMINADA = "terminada"

STATE_LABELS: dict[str, str] = {
    BORRADOR: "Borrador",
    PRESENTADA: "Presentada",
    EN_EVALUACION: "En evaluación",
    OBSERVADA: "Observada",
    PENDIENTE_OPINION_SGP: "Pendiente de opinión de la SGP",
    OPINION_FAVORABLE: "Con opinión favorable de la SGP",
    OPINION_DESFAVORABLE: "Con opinión desfavorable de la SGP",
    RECHAZADA: "Rechazada",
    ACEPTADA: "Aceptada",
    VIGENTE: "Vigente",
    SUSPENDIDA: "Suspendida",
    VENCIDA: "Vencida",
    RENOVADA: "Renovada",
    TERMINACION_EN_TRAMITE: "Terminación anticipada en trámite",
    TERMINADA: "Terminada",
}
STATES = tuple(STATE_LABELS)
# States in which an adhesion binds the parties (services are offered, costs are shared).
IN_FORCE = (VIGENTE, SUSPENDIDA, TERMINACION_EN_TRAMITE)
FINAL = (RECHAZADA, VENCIDA, RENOVADA, TERMINADA)

# --- Parties (who acts, relative to one adhesion) ---------------------------------------------------------
ENTIDAD = "entidad"  # a manager (gestor_entidad) of the participating entity
ADMINISTRADORA = "administradora"  # a coordinator (coordinador_centro) of the centre's administering entity
SGP = "sgp"  # a supervisor of the Secretaría de Gestión Pública
SISTEMA = "sistema"  # the worker's scheduled jobs

PARTY_LABELS = {ENTIDAD: "Entidad participante", ADMINISTRADORA: "Entidad administradora",
                SGP: "Secretaría de Gestión Pública (PCM)", SISTEMA: "Plataforma (proceso programado)"}


@dataclass(frozen=True)
class Transition:
    action: str
    source: str
    target: str
    party: str
    label: str
    needs_reason: bool = False  # a written reason is mandatory
    needs_signature: bool = False  # only the signing service may take it, with a valid signature


TRANSITIONS: tuple[Transition, ...] = (
    Transition("presentar", BORRADOR, PRESENTADA, ENTIDAD, "Firmar y presentar", needs_signature=True),
    Transition("presentar", OBSERVADA, PRESENTADA, ENTIDAD, "Subsanar, firmar y presentar de nuevo",
               needs_signature=True),
    Transition("evaluar", PRESENTADA, EN_EVALUACION, ADMINISTRADORA, "Iniciar la evaluación"),
    Transition("observar", EN_EVALUACION, OBSERVADA, ADMINISTRADORA, "Observar (devolver a la entidad)",
               needs_reason=True),
    Transition("derivar_sgp", EN_EVALUACION, PENDIENTE_OPINION_SGP, ADMINISTRADORA,
               "Derivar a la SGP para opinión previa"),
    Transition("opinar_favorable", PENDIENTE_OPINION_SGP, OPINION_FAVORABLE, SGP, "Opinión favorable",
               needs_reason=True),
    Transition("opinar_desfavorable", PENDIENTE_OPINION_SGP, OPINION_DESFAVORABLE, SGP, "Opinión desfavorable",
               needs_reason=True),
    Transition("rechazar", OPINION_DESFAVORABLE, RECHAZADA, ADMINISTRADORA, "Declarar rechazada",
               needs_reason=True),
    Transition("aceptar", OPINION_FAVORABLE, ACEPTADA, ADMINISTRADORA, "Aceptar y contrafirmar",
               needs_signature=True),
    Transition("iniciar_vigencia", ACEPTADA, VIGENTE, SISTEMA, "Inicio de vigencia"),
    Transition("suspender", VIGENTE, SUSPENDIDA, ADMINISTRADORA, "Suspender", needs_reason=True),
    Transition("reactivar", SUSPENDIDA, VIGENTE, ADMINISTRADORA, "Reactivar", needs_reason=True),
    Transition("vencer", VIGENTE, VENCIDA, SISTEMA, "Fin del plazo"),
    Transition("vencer", SUSPENDIDA, VENCIDA, SISTEMA, "Fin del plazo"),
    Transition("renovar", VIGENTE, RENOVADA, SISTEMA, "Continuada por su renovación"),
    Transition("renovar", VENCIDA, RENOVADA, SISTEMA, "Continuada por su renovación"),
    Transition("solicitar_terminacion", VIGENTE, TERMINACION_EN_TRAMITE, ADMINISTRADORA,
               "Iniciar la terminación anticipada", needs_reason=True),
    Transition("solicitar_terminacion", SUSPENDIDA, TERMINACION_EN_TRAMITE, ADMINISTRADORA,
               "Iniciar la terminación anticipada", needs_reason=True),
    Transition("terminar", TERMINACION_EN_TRAMITE, TERMINADA, SGP,
               "Opinión favorable a la terminación", needs_reason=True),
    Transition("desestimar_terminacion", TERMINACION_EN_TRAMITE, VIGENTE, SGP,
               "Opinión desfavorable a la terminación", needs_reason=True),
)
ACTIONS = tuple(dict.fromkeys(t.action for t in TRANSITIONS))
# The SGP's gates: states only the SGP can lead into (and ``aceptada`` only from a favourable opinion).
SGP_GATE_TARGETS = (OPINION_FAVORABLE, OPINION_DESFAVORABLE, TERMINADA)


def party_of(*, role: str, entity_id: uuid.UUID | None, participant_id: uuid.UUID,
             administering_id: uuid.UUID) -> str | None:
    """The part an actor plays in one adhesion, or None when it plays none."""
    if role == "sistema":
        return SISTEMA
    if role == "supervisor_sgp":
        return SGP
    if role == "gestor_entidad" and entity_id == participant_id:
        return ENTIDAD
    if role == "coordinador_centro" and entity_id == administering_id:
        return ADMINISTRADORA
    return None


def find(action: str, source: str) -> Transition | None:
    return next((t for t in TRANSITIONS if t.action == action and t.source == source), None)


def check(action: str, state: str, party: str | None) -> Transition:
    """The transition ``action`` from ``state`` when ``party`` may take it; a clear refusal otherwise."""
    if action not in ACTIONS:
        raise Conflict(f"La acción «{action}» no existe.", code="accion_desconocida")
    transition = find(action, state)
    if transition is None:
        allowed = [t.label for t in TRANSITIONS if t.source == state]
        hint = f" Desde «{STATE_LABELS[state]}» solo cabe: {', '.join(allowed)}." if allowed else \
            f" «{STATE_LABELS[state]}» es un estado final."
        raise Conflict(f"No se puede «{_label(action)}» una adhesión en estado «{STATE_LABELS[state]}».{hint}",
                       code="transicion_no_permitida")
    if party != transition.party:
        raise Forbidden(f"«{transition.label}» corresponde a: {PARTY_LABELS[transition.party]}.",
                        code="rol_no_autorizado")
    return transition


def available(state: str, party: str | None) -> list[Transition]:
    """What this party may do now (for the buttons on the adhesion page)."""
    return [t for t in TRANSITIONS if t.source == state and t.party == party]


def _label(action: str) -> str:
    return next(t.label for t in TRANSITIONS if t.action == action).lower()
