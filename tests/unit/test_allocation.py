"""The allocation engine, by hand-worked examples (issue #6, "Done means").

RUCs (real, ordered): SUNAT 20131312955 < SUNARP 20267073580 < RENIEC 20295613620 < GR Callao 20505703554.
November 2026 has 30 days.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from app.costsharing.allocation import AllocationInputError, allocate, allocate_delta, case_to_json, parse_case

SUNAT, SUNARP, RENIEC, CALLAO = "20131312955", "20267073580", "20295613620", "20505703554"
NOV = {"start": "2026-11-01", "end": "2026-11-30"}


def case(entities, rules, costs, vacancy=None, period=NOV):
    data = {"period": period, "entities": entities, "methodology": {"version": "v1", "rules": rules},
            "costs": costs}
    if vacancy is not None:
        data["vacancy"] = vacancy
    return data


def entity(ruc, active_from="2026-11-01", active_to=None, **drivers):
    return {"ruc": ruc, "name": ruc, "active_from": active_from, "active_to": active_to,
            "drivers": {k: str(v) for k, v in drivers.items()}}


def amounts(result, cost_id=None):
    return {ln.ruc: ln.amount for ln in result.lines if cost_id is None or ln.cost_id == cost_id}


def run(data):
    return allocate(parse_case(data))


# ------------------------------------------------------------------------------- hand-worked examples ---


def test_a_mix_key_weighs_area_and_attentions_and_the_last_centimo_goes_to_the_largest_remainder():
    # SUNAT: 0.5 × 60/100 + 0.5 × 1000/4000 = 0.425 → 100.01 × 0.425 = 42.50425
    # RENIEC: 0.5 × 40/100 + 0.5 × 3000/4000 = 0.575 → 57.50575 (remainder .575 > .425: gets the céntimo)
    result = run(case([entity(SUNAT, area_m2="60", attentions=1000), entity(RENIEC, area_m2="40", attentions=3000)],
                      {"limpieza": {"area_m2": "0.5", "attentions": "0.5"}},
                      [{"id": "c1", "category": "limpieza", "amount": "100.01"}]))
    assert amounts(result) == {SUNAT: Decimal("42.50"), RENIEC: Decimal("57.51")}
    by_ruc = {ln.ruc: ln for ln in result.lines}
    assert by_ruc[SUNAT].share == Fraction(425, 1000)
    assert by_ruc[SUNAT].exact == Fraction("42.50425")
    assert by_ruc[RENIEC].extra_cent and not by_ruc[SUNAT].extra_cent
    area, attentions = result.derivation("limpieza", RENIEC)
    assert (area.key, area.quantity, area.total, area.fraction) == ("area_m2", 40, 100, Fraction(2, 5))
    assert (attentions.key, attentions.quantity, attentions.total) == ("attentions", 3000, 4000)
    assert result.to_json()["lines"][1] == {"cost_id": "c1", "ruc": RENIEC, "amount": "57.51", "share": "0.5750000",
                                            "exact": "57.50575"}


def test_a_mid_month_joiner_pays_capacity_only_for_its_vigente_days():
    # SUNAT 4 modules × 30 days = 120; RENIEC joined on the 16th: 4 × 15 (16..30 inclusive) = 60 → 2/3 and 1/3.
    result = run(case([entity(SUNAT, modules=4), entity(RENIEC, active_from="2026-11-16", modules=4)],
                      {"mantenimiento": {"modules": "1"}},
                      [{"id": "m", "category": "mantenimiento", "amount": "1000.00"}]))
    assert amounts(result) == {SUNAT: Decimal("666.67"), RENIEC: Decimal("333.33")}
    (modules,) = result.derivation("mantenimiento", RENIEC)
    assert (modules.days, modules.period_days, modules.quantity, modules.total) == (15, 30, 2, 6)


def test_attentions_are_not_prorated_for_a_joiner():
    result = run(case([entity(SUNAT, attentions=300), entity(RENIEC, active_from="2026-11-16", attentions=100)],
                      {"orientacion": {"attentions": "1"}}, [{"id": "o", "category": "orientacion", "amount": "400.00"}]))
    assert amounts(result) == {SUNAT: Decimal("300.00"), RENIEC: Decimal("100.00")}


def test_vacancy_borne_by_the_administering_entity_appears_as_its_lines():
    # area 60 + 30 + 10 vacant = 100 → 600 / 300 / 100 (GR Callao does not deliver services itself).
    data = case([entity(SUNAT, area_m2=60), entity(RENIEC, area_m2=30)], {"alquiler": {"area_m2": "1"}},
                [{"id": "a", "category": "alquiler", "amount": "1000.00"}],
                vacancy={"policy": "administering", "administering_ruc": CALLAO, "drivers": {"area_m2": "10"}})
    result = run(data)
    assert amounts(result) == {SUNAT: Decimal("600.00"), RENIEC: Decimal("300.00"), CALLAO: Decimal("100.00")}
    (area,) = result.derivation("alquiler", CALLAO)
    assert (area.quantity, area.vacancy_quantity, area.total) == (0, 10, 100)
    assert result.to_json()["totals"] == {SUNAT: "600.00", RENIEC: "300.00", CALLAO: "100.00"}


def test_vacancy_redistributed_is_left_out_of_the_denominators():
    data = case([entity(SUNAT, area_m2=60), entity(RENIEC, area_m2=30)], {"alquiler": {"area_m2": "1"}},
                [{"id": "a", "category": "alquiler", "amount": "1000.00"}],
                vacancy={"policy": "redistribute", "administering_ruc": CALLAO, "drivers": {"area_m2": "10"}})
    assert amounts(run(data)) == {SUNAT: Decimal("666.67"), RENIEC: Decimal("333.33")}


def test_vacancy_takes_part_in_capacity_keys_only_never_in_equal_parts():
    # area: 60/100, 30/100, 10/100; equal: 1/2, 1/2 → SUNAT 0.55, RENIEC 0.40, GR Callao 0.05.
    data = case([entity(SUNAT, area_m2=60), entity(RENIEC, area_m2=30)],
                {"vigilancia": {"area_m2": "0.5", "equal": "0.5"}},
                [{"id": "v", "category": "vigilancia", "amount": "1000.00"}],
                vacancy={"policy": "administering", "administering_ruc": CALLAO, "drivers": {"area_m2": "10"}})
    assert amounts(run(data)) == {SUNAT: Decimal("550.00"), RENIEC: Decimal("400.00"), CALLAO: Decimal("50.00")}


def test_a_fixed_split_uses_the_percentages_as_given():
    # 999.99 × 40% = 399.996 (remainder .6) and × 60% = 599.994 (.4): the spare céntimo goes to SUNAT.
    result = run(case([entity(SUNAT), entity(RENIEC)], {"sistema_colas": {"fixed": {SUNAT: "40", RENIEC: "60"}}},
                      [{"id": "s", "category": "sistema_colas", "amount": "999.99"}]))
    assert amounts(result) == {SUNAT: Decimal("400.00"), RENIEC: Decimal("599.99")}


def test_a_key_that_sums_zero_sends_the_item_to_no_distribuido_with_the_reason():
    result = run(case([entity(SUNAT, area_m2=10), entity(RENIEC, area_m2=10)],
                      {"orientacion": {"attentions": "1"}, "alquiler": {"area_m2": "1"}},
                      [{"id": "o", "category": "orientacion", "amount": "500.00"},
                       {"id": "a", "category": "alquiler", "amount": "200.00"}]))
    assert amounts(result, "o") == {}
    assert amounts(result, "a") == {SUNAT: Decimal("100.00"), RENIEC: Decimal("100.00")}
    (unallocated,) = result.to_json()["unallocated"]
    assert unallocated["cost_id"] == "o" and unallocated["amount"] == "500.00"
    assert "attentions" in unallocated["reason"] and "suma cero" in unallocated["reason"]


def test_one_centimo_split_among_three_goes_to_the_lowest_ruc():
    result = run(case([entity(RENIEC), entity(SUNARP), entity(SUNAT)], {"otros": {"equal": "1"}},
                      [{"id": "x", "category": "otros", "amount": "0.01"}]))
    assert amounts(result) == {SUNAT: Decimal("0.01"), SUNARP: Decimal("0.00"), RENIEC: Decimal("0.00")}
    assert sum(amounts(result).values()) == Decimal("0.01")


def test_two_centimos_among_three_go_to_the_two_lowest_rucs():
    result = run(case([entity(RENIEC), entity(SUNARP), entity(SUNAT)], {"otros": {"equal": "1"}},
                      [{"id": "x", "category": "otros", "amount": "0.02"}]))
    assert amounts(result) == {SUNAT: Decimal("0.01"), SUNARP: Decimal("0.01"), RENIEC: Decimal("0.00")}


def test_a_correction_is_split_with_the_original_basis_and_may_be_negative():
    data = parse_case(case([entity(SUNAT, area_m2=2), entity(RENIEC, area_m2=1)], {"energia": {"area_m2": "1"}},
                           [{"id": "e", "category": "energia", "amount": "300.00"}]))
    lines = allocate_delta(data, data.costs[0], Decimal("-10.00"))
    assert {ln.ruc: ln.amount for ln in lines} == {SUNAT: Decimal("-6.67"), RENIEC: Decimal("-3.33")}


def test_the_canonical_input_is_order_independent():
    a = case([entity(SUNAT, area_m2=1), entity(RENIEC, area_m2=2)], {"otros": {"area_m2": "1"}},
             [{"id": "x", "category": "otros", "amount": "1.00"}])
    b = dict(a, entities=list(reversed(a["entities"])))
    assert case_to_json(parse_case(a)) == case_to_json(parse_case(b))


# -------------------------------------------------------------------------------------- bad input ---


def base():
    return case([entity(SUNAT, area_m2=1), entity(RENIEC, area_m2=1)], {"otros": {"area_m2": "1"}},
                [{"id": "x", "category": "otros", "amount": "10.00"}])


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["methodology"]["rules"].update(otros={"superficie": "1"}), "clave desconocida «superficie»"),
    (lambda d: d["methodology"]["rules"].update(otros={"area_m2": "0.5", "equal": "0.4"}), "suman 0.9, deben sumar exactamente 1"),
    (lambda d: d["methodology"]["rules"].update(otros={"fixed": {SUNAT: "40", RENIEC: "50"}}), "suman 90, deben sumar exactamente 100"),
    (lambda d: d["methodology"]["rules"].update(otros={"fixed": {SUNAT: "40", SUNARP: "60"}}), "no participa"),
    (lambda d: d["costs"][0].update(amount="-5.00"), "no puede ser negativo"),
    (lambda d: d["costs"][0].update(amount="1.005"), "más de dos decimales"),
    (lambda d: d["costs"][0].update(amount="12,50"), "«12,50» no es un número válido"),
    (lambda d: d["costs"][0].update(amount=12.5), "se esperaba un número escrito como texto"),
    (lambda d: d["costs"][0].update(category="agua"), "no tiene regla para la(s) categoría(s) agua"),
    (lambda d: d["entities"][0].update(active_from="2026-12-01"), "fuera del periodo"),
    (lambda d: d["entities"][0].update(active_from="2026-11-31"), "no es una fecha válida"),
    (lambda d: d["entities"][0]["drivers"].update(area_m2="-1"), "no puede ser negativo"),
    (lambda d: d["entities"][0]["drivers"].update(asesores="1"), "clave desconocida «asesores»"),
    (lambda d: d["entities"][0].update(ruc="20131312954"), "no es un RUC válido"),
    (lambda d: d["entities"][1].update(ruc=SUNAT), "aparece más de una vez"),
    (lambda d: d.update(vacancy={"policy": "nadie"}), "«nadie» no es válido"),
    (lambda d: d.update(vacancy={"policy": "administering"}), "indique el RUC"),
    (lambda d: d.update(vacancy={"policy": "redistribute", "drivers": {"attentions": "3"}}), "no admite vacancia"),
    (lambda d: d["period"].update(end="2026-10-01"), "anterior a la inicial"),
    (lambda d: d.pop("costs"), "Falta la sección «costs»"),
])
def test_bad_input_is_refused_with_a_specific_message(change, message):
    data = base()
    data["period"] = dict(data["period"])
    change(data)
    with pytest.raises(AllocationInputError) as error:
        parse_case(data)
    assert message in error.value.message
