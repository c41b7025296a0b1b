"""Schema-based testing: the committed OpenAPI document matches the served one, and inputs
generated from it (bounded) never produce a 5xx or an error body of another shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from service_harness import AUTH, Service

from extractor.service.openapi_doc import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
schema = schemathesis.openapi.from_path(DOC)


def test_committed_openapi_matches_the_app():
    assert DOC.read_text() == render(), "regenerate: python -m extractor.service.openapi_doc > docs/openapi.json"


@pytest.mark.slow
def test_served_openapi_matches_the_committed_copy(live):
    service, _ = live
    served = requests.get(f"{service.url}/openapi.json", timeout=10).json()
    assert served == json.loads(DOC.read_text())


@pytest.fixture(scope="module", params=["ocr", "sandbox"])
def live(request, tmp_path_factory):
    args = ["--sandbox"] if request.param == "sandbox" else []
    service = Service(data_dir=tmp_path_factory.mktemp(f"schema-{request.param}") / "data", extra_args=args).start()
    session = requests.Session()
    session.trust_env = False  # never route 127.0.0.1 through a proxy from the environment
    yield service, session
    session.close()
    service.kill()


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_errors_on_generated_input(case, live):
    service, session = live
    for headers in (AUTH, {}):
        response = case.call(base_url=service.url, session=session, headers=headers, timeout=30)
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            body = response.json()
            assert isinstance(body.get("message"), str)
            if response.status_code != 401:
                assert set(body) == {"message", "error_code"}
    assert session.get(f"{service.url}/health", timeout=10).status_code == 200


# Hypothesis beyond the schema: wrong types, odd keys and raw bytes (the schema only generates
# well-typed bodies).
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=80))
_json_values = st.recursive(_json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
_field_values = st.one_of(
    _json_values,
    st.sampled_from(["", "KTP", "KTP_B", "REFERENCE_ID", "http://127.0.0.1:1/x", "https://[::1]/", "data:image/png;base64,",
                     "/9j/4AAQ", "iVBORw0KGgo=", "https://", "http://localhost:0/", "x" * 70]),
)
_bodies = st.fixed_dictionaries(
    {},
    optional={key: _field_values for key in ("image", "validate_quality", "reference_id", "callback_url", "is_quality")},
)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(body=st.one_of(_bodies.map(lambda b: json.dumps(b).encode()), st.binary(max_size=200)))
def test_no_server_errors_on_arbitrary_bodies(live, body):
    service, session = live
    response = session.post(
        f"{service.url}/ktp/id/extract-async", data=body, headers={**AUTH, "Content-Type": "application/json"}, timeout=30
    )
    assert response.status_code in (200, 400, 403, 422), response.text
    if response.status_code != 200:
        assert set(response.json()) == {"message", "error_code"}
