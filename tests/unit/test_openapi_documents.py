"""The OpenAPI documents themselves: valid 3.1, an example for every operation, examples that
match their own schemas, and problem codes that exist in the registry."""
from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from gateway.contract import gateway_openapi
from simulator.app import create_app
from simulator.settings import Settings
from tiers_payant.problems import REGISTRY


@pytest.fixture(scope="module")
def documents(tmp_path_factory):
    # the state directory outlives the module: the app's counters thread flushes into it
    app = create_app(Settings(state_dir=str(tmp_path_factory.mktemp("state")), beneficiaries=20_000, detection=False))
    platform = app.test_client().get("/openapi.json").get_json()
    return {"platform": platform, "gateway": gateway_openapi()}


def _media(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for where, content in ([("request", op["requestBody"]["content"])] if "requestBody" in op else []) + \
                    [(f"response {s}", r.get("content", {})) for s, r in op["responses"].items()]:
                for mime, media in content.items():
                    yield f"{method.upper()} {path} {where} {mime}", op, media


@pytest.mark.parametrize("service", ["platform", "gateway"])
def test_the_document_is_valid_openapi_3_1(documents, service):
    validate(documents[service])
    assert documents[service]["openapi"] == "3.1.0"


@pytest.mark.parametrize("service", ["platform", "gateway"])
def test_every_example_matches_its_own_schema(documents, service):
    doc = documents[service]
    checked = 0
    for where, _, media in _media(doc):
        validator = Draft202012Validator({**media["schema"], "components": doc["components"]})
        for name, example in media.get("examples", {}).items():
            errors = [e.message for e in validator.iter_errors(example["value"])]
            assert errors == [], (where, name, errors[:3])
            checked += 1
    assert checked >= 8


@pytest.mark.parametrize("service", ["platform", "gateway"])
def test_professional_operations_have_catalogue_examples_and_every_json_answer_is_described(documents, service):
    doc = documents[service]
    for path in ("/v1/eligibility", "/v1/pec"):
        examples = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["examples"]
        assert {"opti-a", "card-revoked"} <= set(examples), path
        assert examples["opti-a"]["value"]["card"].count(".") == 2  # a real signed card from the catalogue
    for where, op, media in _media(doc):
        assert media.get("schema") not in (None, {}, {"type": "object"}) or "openapi.json" in where, where


@pytest.mark.parametrize("service", ["platform", "gateway"])
def test_every_authenticated_operation_documents_401_403_and_429_and_codes_exist(documents, service):
    doc = documents[service]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if op.get("security") and op["security"] != [] and path != "/oauth/token":
                assert {"401", "403", "429"} <= set(op["responses"]), (method, path)
            for status, resp in op["responses"].items():
                for media in resp.get("content", {}).values():
                    for part in media["schema"].get("allOf", []):
                        codes = part.get("properties", {}).get("code", {}).get("enum", [])
                        assert set(codes) <= set(REGISTRY), (path, status, codes)
    if service == "gateway":
        assert "PLATFORM_UNAVAILABLE" in str(doc["paths"]["/v1/pec/{pec_number}"]["get"]["responses"]["503"])


@pytest.mark.parametrize("service", ["platform", "gateway"])
def test_every_operation_has_at_least_one_example(documents, service):
    doc = documents[service]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            found = [m for _, o, m in _media({"paths": {path: {method: op}}}) if m.get("examples")]
            assert found, (method, path)
