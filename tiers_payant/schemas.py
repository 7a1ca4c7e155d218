"""Request and answer models: the one source of the wire format and of the OpenAPI schemas.

Strict pydantic models: unknown fields and wrong types are rejected (a professional
software that sends `"birth_rank": "1"` has a bug worth telling it about). Amounts in
requests are decimal strings ("240.00") or JSON numbers with at most two decimals; amounts in
answers are always decimal strings in euros.
"""
from __future__ import annotations

from datetime import date as Date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Domain = Literal["OPTI", "AUDI", "PHAR", "DENT"]
Amount = Field(gt=0, max_digits=8, decimal_places=2)
EurString = Field(pattern=r"^-?\d+\.\d{2}$", examples=["240.00"])


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", populate_by_name=True)


class BeneficiaryIn(Strict):
    nir: str = Field(min_length=15, max_length=15, description="NIR, 15 characters, key included (2A/2B for Corsica)")
    birth_date: Date
    birth_rank: int = Field(ge=1, le=9, description="rang de naissance: tells twins apart")


class EligibilityRequest(Strict):
    card: str = Field(min_length=1, max_length=8192, description="the card's JWS compact token, as scanned")
    beneficiary: BeneficiaryIn
    domain: Domain
    date: Date | None = Field(default=None, description="date of care; today (Europe/Paris) when absent")


class ProfessionalIn(Strict):
    rpps: str = Field(pattern=r"^\d{11}$")
    profession: Literal["28", "26"] = Field(description="28 opticien-lunetier, 26 audioprothésiste")


class LineIn(Strict):
    code: str = Field(min_length=1, max_length=32, description="product code of the tariff table")
    cls: Literal["A", "B", "I", "II"] = Field(alias="class")
    eye: Literal["right", "left"] | None = None
    ear: Literal["right", "left"] | None = None
    price: Decimal = Amount
    quantity: int = Field(ge=1, le=2)


class PecRequest(EligibilityRequest):
    professional: ProfessionalIn
    lines: list[LineIn] = Field(min_length=1, max_length=12)
    prescription_date: Date | None = None


class AdviceIn(Strict):
    advice_id: str = Field(pattern=r"^[0-9a-f]{32}$", description="idempotency key of the advice")
    operation: Literal["eligibility", "pec"]
    at: float = Field(allow_inf_nan=False, description="epoch seconds of the offline decision (finite; the"
                      " platform also requires it within its accepted window)")
    cause: Literal["unreachable", "timeout", "breaker_open"]
    reference: str = Field(max_length=64, description="the gateway's journal reference")
    amc_eur: Decimal = Field(ge=0, le=100_000, max_digits=10, decimal_places=2, allow_inf_nan=False)
    request: dict = Field(description="the original request body, judged as if it came online at `at`")
    client_id: str | None = Field(None, min_length=1, max_length=64,
                                  description="if given, must be the token's subject")
    token: str | None = Field(None, min_length=16, max_length=4096,
                              description="the professional's bearer token used for the offline decision: the"
                                          " platform confirms an advice only if it was genuinely issued to that"
                                          " professional and in force at `at`")
    idempotency_key: str | None = Field(None, min_length=1, max_length=128,
                                        description="the Idempotency-Key the gateway sent online for this PEC, if"
                                                    " any: a decision already made online with it stands")


class OfflineLookupIn(Strict):
    id: str = Field(pattern=r"^[0-9a-f]{32}$", description="the gateway's id of the lookup: replays are ignored")
    at: float = Field(allow_inf_nan=False, description="epoch seconds of the offline lookup")
    beneficiary_key: str = Field(min_length=8, max_length=128, description="the gateway's keyed hash of the"
                                                                            " beneficiary, never the NIR")
    ok: bool
    with_card: bool
    operation: Literal["eligibility", "pec"]
    token: str = Field(min_length=16, max_length=4096, description="the professional's bearer token")


class OfflineLookupsRequest(Strict):
    lookups: list[OfflineLookupIn] = Field(min_length=1, max_length=500)


class AdvicesRequest(Strict):
    advices: list[AdviceIn] = Field(min_length=1, max_length=200)


# ---- answers (documented in OpenAPI; tests validate live answers against them) ----

class Coverage(BaseModel):
    domain: Domain
    level: str | None = None
    valid_to: Date | None = None
    responsable: bool | None = None


class EligibilityAnswer(BaseModel):
    decision: Literal["eligible", "not_eligible"]
    reason: str | None
    mode: Literal["online", "offline"]
    provisional: bool
    coverage: Coverage | None
    request_id: str
    journal_reference: str | None = None
    offline_cause: Literal["unreachable", "timeout", "breaker_open"] | None = None


class LineAnswer(BaseModel):
    code: str
    status: Literal["accepted", "refused"]
    reason: str | None
    amo: str = EurString
    amc: str = EurString
    patient: str = EurString


class PecAnswer(BaseModel):
    decision: Literal["accepted", "refused", "partial"]
    reason: str | None
    reasons: list[str]
    pec_number: str | None
    lines: list[LineAnswer]
    amo: str = EurString
    amc: str = EurString
    patient: str = EurString
    expires_on: Date | None
    mode: Literal["online", "offline"]
    provisional: bool
    request_id: str
    journal_reference: str | None = None
    offline_cause: Literal["unreachable", "timeout", "breaker_open"] | None = None


class ProblemDocument(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[dict]
