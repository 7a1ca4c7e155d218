"""Frozen values shared by the platform and the gateway: card claims, stand-in policy, money.

Amounts are `Decimal` in the core and decimal strings with two digits in euros on the wire
("240.00"): one convention, documented in the README and the OpenAPI document.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

DOMAINS = ("OPTI", "AUDI", "PHAR", "DENT")  # product's own documented domain codes
PEC_DOMAINS = ("OPTI", "AUDI")
CENT = Decimal("0.01")
PARIS = ZoneInfo("Europe/Paris")


def paris_day(ts: float) -> date:
    """The calendar day of an instant in France: what "today" means for rights and PECs."""
    return datetime.fromtimestamp(ts, PARIS).date()


def money(value: Decimal | int | str) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def eur(value: Decimal) -> str:
    """Wire format of an amount: "240.00"."""
    return str(money(value))


@dataclass(frozen=True)
class CardBeneficiary:
    last_name: str
    first_name: str
    birth_date: date
    birth_rank: int
    nir: str

    def to_json(self) -> dict[str, Any]:
        return {
            "last_name": self.last_name,
            "first_name": self.first_name,
            "birth_date": self.birth_date.isoformat(),
            "birth_rank": self.birth_rank,
            "nir": self.nir,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "CardBeneficiary":
        return cls(d["last_name"], d["first_name"], date.fromisoformat(d["birth_date"]),
                   int(d["birth_rank"]), d["nir"])


@dataclass(frozen=True)
class Card:
    """Claims of a digital attestation de tiers payant (the JWS payload)."""

    amc: str  # numéro AMC, 9 digits in the simulator
    convention: str  # type de convention
    routing: str  # critère secondaire de routage
    member: str  # numéro d'adhérent
    valid_from: date
    valid_to: date  # inclusive
    beneficiaries: tuple[CardBeneficiary, ...]
    domains: tuple[str, ...]  # open to tiers payant
    serial: str
    responsable: bool  # the "R" of a contrat responsable
    guarantees: tuple[tuple[str, str], ...] = ()  # (domain, profile level), e.g. ("OPTI", "CONFORT")
    contract_type: str | None = None  # "responsable" / "non_responsable" / "css"; older cards: from `responsable`

    def guarantee(self, domain: str) -> str | None:
        return dict(self.guarantees).get(domain)

    def to_json(self) -> dict[str, Any]:
        return {
            "amc": self.amc,
            "convention": self.convention,
            "routing": self.routing,
            "member": self.member,
            "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to.isoformat(),
            "beneficiaries": [b.to_json() for b in self.beneficiaries],
            "domains": list(self.domains),
            "guarantees": dict(self.guarantees),
            "serial": self.serial,
            "responsable": self.responsable,
            **({"contract_type": self.contract_type} if self.contract_type else {}),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Card":
        return cls(
            amc=str(d["amc"]), convention=str(d["convention"]), routing=str(d["routing"]),
            member=str(d["member"]),
            valid_from=date.fromisoformat(d["valid_from"]), valid_to=date.fromisoformat(d["valid_to"]),
            beneficiaries=tuple(CardBeneficiary.from_json(b) for b in d["beneficiaries"]),
            domains=tuple(d["domains"]), serial=str(d["serial"]),
            responsable=bool(d.get("responsable", False)),
            guarantees=tuple(sorted((k, str(v)) for k, v in dict(d.get("guarantees", {})).items())),
            contract_type=str(d["contract_type"]) if d.get("contract_type") else None,
        )


@dataclass(frozen=True)
class StandinPolicy:
    """Limits an AMC allows in degraded mode (card networks' stand-in processing).

    `single_ceiling_eur`: per domain, the largest AMC amount of one offline PEC.
    `cumulative_ceiling_eur` / `cumulative_count`: per beneficiary, what offline decisions
    may add up to over `period_days` (EMV's consecutive-offline limits).
    `max_revocation_age_s`: older revocation snapshots make free-priced items decline.
    `stale_list_allows_100_sante`: regulated-price items (classe A, classe I) may still be
    accepted on a stale list, since their amounts are capped by law.
    `default`: "decline" or "accept" for what no rule covers (an unknown domain, say).
    """

    amc: str
    single_ceiling_eur: tuple[tuple[str, Decimal], ...]
    cumulative_ceiling_eur: Decimal
    cumulative_count: int
    period_days: int
    max_revocation_age_s: int
    stale_list_allows_100_sante: bool
    default: str = "decline"

    def ceiling(self, domain: str) -> Decimal | None:
        return dict(self.single_ceiling_eur).get(domain)

    def to_json(self) -> dict[str, Any]:
        return {
            "amc": self.amc,
            "single_ceiling_eur": {k: eur(v) for k, v in self.single_ceiling_eur},
            "cumulative_ceiling_eur": eur(self.cumulative_ceiling_eur),
            "cumulative_count": self.cumulative_count,
            "period_days": self.period_days,
            "max_revocation_age_s": self.max_revocation_age_s,
            "stale_list_allows_100_sante": self.stale_list_allows_100_sante,
            "default": self.default,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "StandinPolicy":
        return cls(
            amc=str(d["amc"]),
            single_ceiling_eur=tuple(sorted((k, money(v)) for k, v in d["single_ceiling_eur"].items())),
            cumulative_ceiling_eur=money(d["cumulative_ceiling_eur"]),
            cumulative_count=int(d["cumulative_count"]),
            period_days=int(d["period_days"]),
            max_revocation_age_s=int(d["max_revocation_age_s"]),
            stale_list_allows_100_sante=bool(d["stale_list_allows_100_sante"]),
            default=str(d.get("default", "decline")),
        )
