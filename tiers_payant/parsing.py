"""Turning a raw body into a validated model, or into the right problem document.

Shared by both services so that the same bad input gets the same answer everywhere:
415 for a wrong content type, 413 over the size limit, 400 for JSON that does not parse or
nests too deep, 422 with field paths for schema errors and NIR_INVALID for a bad NIR key.
"""
from __future__ import annotations

import json
import re
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from .nir import nir_error, nir_hint
from .problems import FieldError, Problem

MAX_BODY_BYTES = 64 * 1024
MAX_JSON_DEPTH = 16
M = TypeVar("M", bound=BaseModel)
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_BRACKETS = re.compile(rb"[\[\]{}]")


def json_depth(raw: bytes) -> int:
    """Nesting depth of a JSON text, counted outside strings, without parsing it.

    Exact above MAX_JSON_DEPTH; at or below it, an upper bound (the number of opening
    brackets) may be returned instead, so compare the result with MAX_JSON_DEPTH only.
    """
    if raw.count(b"{") + raw.count(b"[") <= MAX_JSON_DEPTH:  # fast path: cannot be deeper
        return raw.count(b"{") + raw.count(b"[")
    # Strings out (a bracket inside one does not nest), then walk the brackets only: the
    # regexes run in C, so a 50 KB batch of advices costs microseconds, not a byte loop.
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub(b'""', raw)):
        if bracket in (b"{", b"["):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def check_content_type(content_type: str | None) -> None:
    mime = (content_type or "").split(";")[0].strip().lower()
    if mime != "application/json":
        hint = (" (a form body is for POST /oauth/token only; this operation takes a JSON object, e.g. "
                "requests' json= rather than data=)" if mime in ("application/x-www-form-urlencoded", "multipart/form-data")
                else "")
        raise Problem("UNSUPPORTED_MEDIA_TYPE", f"send Content-Type: application/json, not {mime or 'nothing'}{hint}")


def check_size(length: int | None, raw: bytes | None = None) -> None:
    size = length if raw is None else len(raw)
    if size is not None and size > MAX_BODY_BYTES:
        raise Problem("PAYLOAD_TOO_LARGE", f"body over {MAX_BODY_BYTES} bytes")


def _pointer(loc: tuple) -> str:
    return "/" + "/".join(str(p) for p in loc) if loc else ""


def parse_model(model: type[M], raw: bytes) -> M:
    check_size(None, raw)
    if json_depth(raw) > MAX_JSON_DEPTH:
        raise Problem("MALFORMED_JSON", f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = model.model_validate_json(raw, by_alias=True)
    except ValidationError as exc:
        errs = exc.errors(include_url=False)
        if any(e["type"] == "json_invalid" for e in errs):
            raise Problem("MALFORMED_JSON", "the body is not valid JSON") from None
        if any(e["type"] == "model_type" and not e["loc"] for e in errs):
            raise Problem("VALIDATION_FAILED", "the body must be a JSON object",
                          [FieldError("", "expected an object")]) from None
        fields = [FieldError(_pointer(e["loc"]), _with_hint(e)) for e in errs]
        first = fields[0]
        raise Problem("VALIDATION_FAILED", f"{len(fields)} field(s) invalid; first: {first.path}: {first.message}",
                      fields) from None
    beneficiary = getattr(value, "beneficiary", None)
    if beneficiary is not None:
        msg = nir_error(beneficiary.nir)
        if msg:
            raise Problem("NIR_INVALID", msg, [FieldError("/beneficiary/nir", msg, "NIR_INVALID")])
    return value


def _with_hint(error: dict) -> str:
    """pydantic's message, plus what a person probably did wrong where that is a common slip."""
    value, loc = error.get("input"), error["loc"]
    if loc and loc[-1] == "nir" and isinstance(value, str):
        hint = nir_hint(value)
        if hint:
            return hint
    return error["msg"]


def parse_json_object(raw: bytes) -> dict:
    """A JSON object with no schema model (login form as JSON, control API bodies)."""
    if json_depth(raw) > MAX_JSON_DEPTH:
        raise Problem("MALFORMED_JSON", f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = json.loads(raw)
    except ValueError:
        raise Problem("MALFORMED_JSON", "the body is not valid JSON") from None
    if not isinstance(value, dict):
        raise Problem("VALIDATION_FAILED", "the body must be a JSON object", [FieldError("", "expected an object")])
    return value
