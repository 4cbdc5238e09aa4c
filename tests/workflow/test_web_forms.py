"""Hosted forms over a real socket: a submission creates or updates the lead (never twice);
bad input gets a clear 4xx and nothing is stored."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from sqlalchemy import func, select
from workflow_helpers import FORM_YAML, MakeApp, Served, free_port, serve

from syncd.app import App
from syncd.store import models as m
from syncd.store.models_workflow import FormSubmission

GOOD = {"email": "Jane.Dupont@Fabrikam.test", "nom": "Jane Dupont", "societe": "Fabrikam",
        "effectif": "40", "message": "Bonjour", "website": ""}


@pytest.fixture
def site(db_url: str, make_app: MakeApp) -> Iterator[tuple[App, Served]]:
    app = make_app(db_url, port=free_port(), forms={"demo.yaml": FORM_YAML}, form_limit=5)
    with serve(app) as served:
        yield app, served


def stored(app: App) -> dict[str, int]:
    with app.sessions() as s:
        return {name: s.scalar(select(func.count()).select_from(model)) or 0
                for name, model in (("leads", m.Lead), ("persons", m.Person),
                                    ("events", m.Event), ("submissions", FormSubmission))}


def test_page_is_accessible_html(site: tuple[App, Served]) -> None:
    _, served = site
    page = requests.get(f"{served.url}/f/demo", timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'self' https://www.contoso.test" in page.headers[
        "content-security-policy"]
    html = page.text
    assert '<html lang="fr">' in html and "novalidate" in html
    assert '<label for="f-email">E-mail' in html and 'autocomplete="email"' in html
    assert 'name="website" tabindex="-1"' in html  # the honeypot, hidden from people
    assert requests.get(f"{served.url}/f/nope", timeout=30).status_code == 404


def test_second_submission_updates_the_same_lead(site: tuple[App, Served]) -> None:
    app, served = site
    first = requests.post(f"{served.url}/f/demo", data=GOOD, timeout=30)
    assert first.status_code == 200 and "bien été reçue" in first.text
    again = requests.post(f"{served.url}/f/demo", json={**GOOD, "nom": "Jane D.",
                                                        "effectif": 45}, timeout=30)
    assert again.status_code == 201 and again.json() == {"status": "received"}
    with app.sessions() as s:
        (lead,) = s.scalars(select(m.Lead)).all()
        # Known fields are only filled in when blank; form answers are merged, newest wins.
        assert (lead.name, lead.company, lead.source) == ("Jane Dupont", "Fabrikam", "form:demo")
        assert lead.fields == {"effectif": 45, "message": "Bonjour"}
        owner = s.get_one(m.User, lead.owner_user_id)
        assert s.get_one(m.Person, owner.person_id).email == "alice@contoso.test"
        events = s.execute(select(m.Event.type, m.Event.payload).order_by(m.Event.id)).all()
    assert [t for t, _ in events] == ["lead.created", "form.submitted", "form.submitted"]
    assert events[1][1]["lead_created"] is True and events[2][1]["lead_created"] is False
    assert events[2][1]["email"] == "jane.dupont@fabrikam.test"
    assert stored(app)["submissions"] == 2


def test_a_contact_is_not_made_a_lead(site: tuple[App, Served]) -> None:
    app, served = site
    with app.sessions.begin() as s:
        person = m.Person(email="jane.dupont@fabrikam.test", name="Jane", domain="fabrikam.test")
        s.add(person)
        s.flush()
        s.add(m.Contact(person_id=person.id, name="Jane", created_at=datetime.now(UTC)))
    assert requests.post(f"{served.url}/f/demo", data=GOOD, timeout=30).status_code == 200
    with app.sessions() as s:
        assert s.scalar(select(func.count()).select_from(m.Lead)) == 0
        assert s.scalars(select(FormSubmission.contact_id)).one() is not None


BAD: list[tuple[str, dict[str, Any], int, dict[str, str]]] = [
    ("json", {"json": {"email": "nope", "nom": "", "effectif": "x"}}, 422,
     {"email": "Adresse e-mail invalide.", "nom": "Ce champ est obligatoire.",
      "effectif": "Nombre entier attendu."}),
    ("json", {"json": {**GOOD, "is_admin": True}}, 422, {"is_admin": "Champ inconnu."}),
    ("json", {"json": {**GOOD, "nom": ["Jane"], "effectif": True}}, 422,
     {"nom": "Valeur de type incorrect.", "effectif": "Valeur de type incorrect."}),
    ("json", {"json": {**GOOD, "nom": "x" * 101}}, 422, {"nom": "100 caractères au maximum."}),
    ("json", {"json": {**GOOD, "website": "http://spam.test"}}, 400, {}),  # honeypot
    ("json", {"data": b"{not json", "headers": {"Content-Type": "application/json"}}, 400, {}),
    ("json", {"json": ["a", "list"]}, 400, {}),
    ("json", {"data": b"x" * 20000, "headers": {"Content-Type": "application/json"}}, 413, {}),
    ("json", {"chunks": 20,  # chunked: no Content-Length
              "headers": {"Content-Type": "application/json"}}, 413, {}),
    ("json", {"files": {"email": ("a", b"a@b.test")}}, 415, {}),
    ("json", {"json": GOOD, "headers": {"Origin": "https://evil.test"}}, 403, {}),
    ("html", {"data": "email=a@b.test&email=c@d.test&nom=N", "headers": {
        "Content-Type": "application/x-www-form-urlencoded"}}, 422, {}),
    ("html", {"data": b"email=\xff\xfe", "headers": {
        "Content-Type": "application/x-www-form-urlencoded"}}, 400, {}),
]


@pytest.mark.parametrize(("kind", "request_kwargs", "status", "errors"), BAD,
                         ids=[f"{i}-{b[2]}" for i, b in enumerate(BAD)])
def test_bad_input_is_refused_and_nothing_is_stored(
        site: tuple[App, Served], kind: str, request_kwargs: dict[str, Any], status: int,
        errors: dict[str, str]) -> None:
    app, served = site
    before = stored(app)
    request_kwargs = dict(request_kwargs)
    if "chunks" in request_kwargs:
        request_kwargs["data"] = (b"x" * 1000 for _ in range(request_kwargs.pop("chunks")))
    response = requests.post(f"{served.url}/f/demo", timeout=30, **request_kwargs)
    assert response.status_code == status, response.text
    if kind == "json" and response.headers.get("content-type") == "application/json":
        body = response.json()
        assert body["error"]
        assert body.get("errors", {}) == errors
    assert stored(app) == before


def test_html_errors_are_shown_beside_their_fields_and_escaped(site: tuple[App, Served]
                                                                ) -> None:
    app, served = site
    evil = '<script>alert("x")</script>'
    response = requests.post(f"{served.url}/f/demo", timeout=30,
                             data={"email": "pas une adresse", "nom": evil, "effectif": "0"})
    assert response.status_code == 422
    html = response.text
    assert '<div role="alert" id="error-summary"' in html
    assert 'aria-invalid="true" aria-describedby="e-email"' in html
    assert '<p class="error" id="e-email">Adresse e-mail invalide.</p>' in html
    assert "Valeur minimale : 1." in html
    assert evil not in html and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert stored(app)["submissions"] == 0


def test_flood_from_one_address_is_refused(site: tuple[App, Served]) -> None:
    app, served = site
    statuses = [requests.post(f"{served.url}/f/demo", json={"nom": "x"}, timeout=30).status_code
                for _ in range(6)]
    assert statuses == [422] * 5 + [429]
    last = requests.post(f"{served.url}/f/demo", json=GOOD, timeout=30)
    assert last.status_code == 429 and int(last.headers["retry-after"]) >= 1
    assert stored(app)["submissions"] == 0


def test_allowed_origin_gets_cors(site: tuple[App, Served]) -> None:
    _, served = site
    origin = {"Origin": "https://www.contoso.test"}
    pre = requests.options(f"{served.url}/f/demo", headers=origin, timeout=30)
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == "https://www.contoso.test"
    posted = requests.post(f"{served.url}/f/demo", json=GOOD, headers=origin, timeout=30)
    assert posted.status_code == 201
    assert posted.headers["access-control-allow-origin"] == "https://www.contoso.test"
    refused = requests.options(f"{served.url}/f/demo", headers={"Origin": "https://x.test"},
                               timeout=30)
    assert refused.status_code == 403
