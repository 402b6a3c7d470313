"""The UI's files as the server serves them: the page, its modules, and no broken references."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from voxrt.config import load_settings
from voxrt.server import create_app
from voxrt.server.routers.web import WEB_DIR


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app(load_settings(overrides={})))  # static files need no model loaded


def test_page_and_modules_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'id="start"' in page.text
    module = client.get("/static/app.js")
    assert module.status_code == 200
    # Browsers refuse an ES module served with a non-JavaScript type.
    assert module.headers["content-type"].split(";")[0] in ("text/javascript", "application/javascript")
    assert client.get("/static/missing.js").status_code == 404


def test_every_reference_between_the_files_resolves(client: TestClient) -> None:
    references = re.findall(r'(?:href|src)="static/([^"]+)"', (WEB_DIR / "index.html").read_text())
    for script in WEB_DIR.glob("*.js"):
        text = script.read_text()
        references += re.findall(r'from "\./([^"]+)"', text)
        references += re.findall(r'new URL\("\./([^"]+)"', text)
    assert len(references) >= 7
    for name in references:
        assert client.get(f"/static/{name}").status_code == 200, name
