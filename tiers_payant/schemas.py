"""Request and answer models: the one source of the wire format and of the OpenAPI schemas.

Strict pydantic models: unknown fields and wrong types are rejected (a professional
software that sends `"birth_rank": "1"` has a bug worth telling it about). Amounts in
requests and answers are decimal strings in euros with exactly two decimals ("240.00"): a
JSON number is refused with a 422 that says so, since a binary float cannot hold 0.10 and
two clients would round it differently.
"""
from __future__ import annotations

from datetime import date as Date
import re
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

Domain = Literal["OPTI", "AUDI", "PHAR", "DENT"]
AMOUNT_PATTERN = r"^[0-9]{1,6}\.[0-9]{2}$"
POSITIVE_AMOUNT_PATTERN = r"^(?!0+\.00$)[0-9]{1,6}\.[0-9]{2}$"  # as above, 0.00 excluded
NIR_PATTERN = r"^[1278][0-9]{4}(?:[0-9]{2}|2[AB])[0-9]{8}$"
_AMOUNT = re.compile(AMOUNT_PATTERN)


def _amount(positive: bool, maximum: Decimal | None = None):
    def check(value: object) -> Decimal:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            raise PydanticCustomError("amount_number", 'amounts are decimal strings with two decimals, e.g. "{example}", '
                                      "not JSON numbers", {"example": f"{value:.2f}" if value >= 0 else "30.00"})
        if not isinstance(value, str) or not _AMOUNT.fullmatch(value):
            raise PydanticCustomError("amount_format", 'an amount is a string of euros with two decimals, e.g. "30.00"')
        if positive and Decimal(value) <= 0:
            raise PydanticCustomError("amount_positive", "the amount must be above 0.00")
        if maximum is not None and Decimal(value) > maximum:
            raise PydanticCustomError("amount_maximum", "the amount must be at most {maximum}", {"maximum": str(maximum)})
        return Decimal(value)
    schema = {"type": "string", "pattern": POSITIVE_AMOUNT_PATTERN if positive else AMOUNT_PATTERN,
              "examples": ["30.00"],
              "description": "euros, a decimal string with two decimals" + (", above 0.00" if positive else "")}
    return Annotated[Decimal, PlainValidator(check), WithJsonSchema(schema, mode="validation")]


def _integral(value: object) -> object:
    """JSON Schema's `integer` includes 1.0 (a number whose fraction is zero): accepted as 1, so
    the server is no stricter than its documents; 1.5 and "1" are still refused."""
    return int(value) if type(value) is float and value.is_integer() else value


Int = Annotated[int, BeforeValidator(_integral)]
PositiveEur = _amount(True)
Eur = _amount(False)
AdviceEur = _amount(False, Decimal("100000.00"))
DIOPTRES_PATTERN = r"^[0-9]{1,2}\.[0-9]{2}$"


def _dioptres(value: object) -> Decimal:
    if not isinstance(value, str) or not re.fullmatch(DIOPTRES_PATTERN, value):
        raise PydanticCustomError("dioptres_format", 'a change of correction is a string of dioptres with two '
                                  'decimals, e.g. "0.50"')
    return Decimal(value)


Dioptres = Annotated[Decimal, PlainValidator(_dioptres), WithJsonSchema(
    {"type": "string", "pattern": DIOPTRES_PATTERN, "examples": ["0.50"],
     "description": "dioptres of change since the last lenses, a decimal string"}, mode="validation")]
EurString = Field(pattern=r"^-?\d+\.\d{2}$", examples=["240.00"])


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", populate_by_name=True)


class BeneficiaryIn(Strict):
    nir: str = Field(min_length=15, max_length=15, json_schema_extra={"pattern": NIR_PATTERN, "format": "nir"},
                     description="NIR, 15 characters without spaces or dots, key included (2A/2B in capitals for "
                                 "Corsica); a wrong key is 422 NIR_INVALID", examples=["185057800608491"])
    birth_date: Date
    birth_rank: Int = Field(ge=1, le=9, description="rang de naissance: tells twins apart")


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
    price: PositiveEur
    quantity: Int = Field(ge=1, le=2)


class RenewalIn(Strict):
    """Facts that allow an early renewal of the lenses (optics); all optional."""

    correction_change_right: Dioptres | None = None
    correction_change_left: Dioptres | None = None
    medical_condition: bool = Field(default=False, description="a listed condition, attested on the prescription")


class PecRequest(EligibilityRequest):
    professional: ProfessionalIn
    lines: list[LineIn] = Field(min_length=1, max_length=12)
    prescription_date: Date | None = Field(default=None, description="checked for validity when given")
    prescriber: Literal["ent", "ent_paediatric", "gp_otology", "ophthalmologist", "orthoptist",
                        "optician"] | None = Field(default=None, description="audio: checked when given")
    renewal: RenewalIn | None = None
    amo_regime: Literal["general", "alsace_moselle"] | None = Field(
        default=None, description="the beneficiary's AMO regime, from the carte Vitale; general when absent")
    territory: Literal["metropole", "971", "972", "973", "974", "976"] | None = Field(
        default=None, description="where the equipment is delivered (the professional's establishment): an"
                                  " overseas department by its INSEE code (971 Guadeloupe, 972 Martinique, 973"
                                  " Guyane, 974 La Réunion, 976 Mayotte), whose LPP bases and 100 % Santé caps"
                                  " are raised; metropolitan France when absent")


class InvoiceIn(Strict):
    """Facturation against an agreement: what is invoiced, at most what was agreed."""

    invoice_number: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9-]+$")
    delivered_on: Date | None = Field(default=None, description="delivery date; today (Europe/Paris) when absent")
    amo: Eur
    amc: Eur


class CancelIn(Strict):
    reason: Literal["abandoned", "quote_changed", "error", "other"] = "abandoned"


class AdviceIn(Strict):
    advice_id: str = Field(pattern=r"^[0-9a-f]{32}$", description="idempotency key of the advice")
    operation: Literal["eligibility", "pec", "cancel", "invoice"]
    at: float = Field(allow_inf_nan=False, description="epoch seconds of the offline decision (finite; the"
                      " platform also requires it within its accepted window)")
    cause: Literal["unreachable", "timeout", "breaker_open"]
    reference: str = Field(max_length=64, description="the gateway's journal reference")
    amc_eur: AdviceEur  # at most 100,000.00: no single equipment comes near
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


class ProblemError(BaseModel):
    path: str = Field(description="JSON pointer into the request body (\"\" for the whole body)")
    message: str
    code: str


class ProblemDocument(BaseModel):
    """RFC 9457; extension members may be added (the token endpoint adds RFC 6749's `error`)."""
    type: str = Field(description="relative URI of the problem type's page on this service: /problems/<code>")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    code: str = Field(description="stable code from the registry (see /problems)")
    errors: list[ProblemError]
