"""OpenAPI 3.1 documents generated from the same pydantic models that validate requests.

Both services describe their operations from one table; the gateway's document is the
platform's professional operations plus its own status endpoints.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .problems import PROBLEM_CONTENT_TYPE, registry_table
from .schemas import (AdvicesRequest, EligibilityAnswer, EligibilityRequest, PecAnswer, PecRequest,
                      ProblemDocument)

MODELS: list[type[BaseModel]] = [EligibilityRequest, PecRequest, AdvicesRequest, EligibilityAnswer, PecAnswer,
                                 ProblemDocument]


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _problems(*statuses: int) -> dict[str, Any]:
    return {str(s): {"description": "problem document",
                     "content": {PROBLEM_CONTENT_TYPE: {"schema": _ref(ProblemDocument)}}} for s in statuses}


def operation(summary: str, request: type[BaseModel] | None, answer: type[BaseModel] | dict | None,
              problems: tuple[int, ...] = (400, 401, 413, 415, 422), auth: bool = True,
              idempotent: bool = False) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {}}
    if request is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(request)}}}
    ok_schema = _ref(answer) if isinstance(answer, type) else (answer or {"type": "object"})
    op["responses"]["200"] = {"description": "answer", "content": {"application/json": {"schema": ok_schema}}}
    op["responses"].update(_problems(*problems))
    if auth:
        op["security"] = [{"bearer": []}]
    if idempotent:
        op["parameters"] = [{"name": "Idempotency-Key", "in": "header", "required": False,
                             "schema": {"type": "string", "maxLength": 128}}]
    return op


def professional_paths() -> dict[str, Any]:
    return {
        "/v1/eligibility": {"post": operation("Rights check: is this beneficiary covered for this domain",
                                              EligibilityRequest, EligibilityAnswer)},
        "/v1/pec": {"post": operation("Prise en charge: a quote in, an agreement with AMO/AMC/patient amounts out",
                                      PecRequest, PecAnswer, (400, 401, 403, 409, 413, 415, 422), idempotent=True)},
        "/v1/pec/{pec_number}": {"get": {**operation("Status of an agreement", None, {"type": "object"}, (401, 404)),
                                         "parameters": [{"name": "pec_number", "in": "path", "required": True,
                                                         "schema": {"type": "string", "maxLength": 64}}]}},
    }


def document(title: str, description: str, paths: dict[str, Any]) -> dict[str, Any]:
    _, schemas = models_json_schema([(m, "validation") for m in MODELS], by_alias=True,
                                    ref_template="#/components/schemas/{model}")
    codes = "\n".join(f"- `{c['code']}` ({c['status']}{', decline' if c['decline'] else ''}): {c['title']}"
                      for c in registry_table())
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1.0.0",
                 "description": description + "\n\nAmounts are decimal strings in euros with two decimals."
                 "\n\nReason and problem codes:\n" + codes},
        "paths": paths,
        "components": {"schemas": schemas.get("$defs", {}),
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
    }
