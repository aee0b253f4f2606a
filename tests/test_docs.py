"""/docs and /redoc work without outbound network access: nothing is loaded from a CDN.

They were blank offline or in a clinic network without outbound access.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

REFERENCE = re.compile(r"""(?:src|href)=["']([^"']+)["']""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_reference_no_outside_host_and_their_assets_are_served(
    client: TestClient, page: str
) -> None:
    response = client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    # No absolute or scheme-relative URL anywhere: not in a tag, not in the page's script.
    assert "://" not in html
    assert "//" not in html.replace("<!--", "").replace("-->", "").replace("://", "")
    references = REFERENCE.findall(html)
    assert references, "the page should load its script"
    for reference in references:
        assert reference.startswith("/"), reference
        assert not reference.startswith("//"), reference
        asset = client.get(reference)
        assert asset.status_code == 200, reference
        assert len(asset.content) > 100, reference
    scripts = [r for r in references if r.endswith(".js")]
    assert scripts
    for script in scripts:
        assert "javascript" in client.get(script).headers["content-type"]
    assert '"/openapi.json"' in html or "'/openapi.json'" in html


def test_swagger_ui_reads_openapi_31_and_sends_nothing_to_the_public_validator(
    client: TestClient,
) -> None:
    assert client.get("/openapi.json").json()["openapi"].startswith("3.1")
    bundle = client.get("/docs/static/swagger-ui-bundle.js").text
    # Swagger UI reads OpenAPI 3.1 from version 5 on (the CDN default FastAPI used is 5.x).
    assert re.search(r'"5\.\d+\.\d+"', bundle)
    assert '"validatorUrl": null' in client.get("/docs").text
    assert client.get("/docs/oauth2-redirect").status_code == 200
    root = client.get("/", follow_redirects=False)
    assert root.headers["location"] == "/docs"
