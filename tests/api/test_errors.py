"""Errors read as people expect: Spanish pages in the UI, RFC 9457 problem+json on the API."""

from __future__ import annotations


async def test_an_unknown_page_is_a_spanish_404_page(client):
    r = await client.get("/no-existe", headers={"accept": "text/html"})
    assert r.status_code == 404
    assert "La página o el recurso solicitado no existe." in r.text
    assert r.headers["content-type"].startswith("text/html")


async def test_an_unknown_api_resource_is_problem_json(client):
    r = await client.get("/api/v1/no-existe")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 404 and body["title"] == "No encontrado" and body["instance"] == "/api/v1/no-existe"


async def test_the_machine_api_without_a_token_answers_401_with_the_bearer_challenge(client):
    r = await client.get("/api/v1/yo")
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert r.json()["detail"]


async def test_a_wrong_method_is_explained_in_spanish(client):
    r = await client.http.request("DELETE", "/health", headers={"accept": "application/json"})
    assert r.status_code == 405
    assert r.json()["detail"] == "Esta operación no está permitida aquí."
