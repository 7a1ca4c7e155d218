"""The journal of offline acceptances: one interface, two stores (SQLite, PostgreSQL).

An offline acceptance is a payment promise made without the platform: it must be durable
*before* it is returned (DESIGN §5.4). `record` therefore commits (fsync on SQLite, a
synchronous commit on PostgreSQL) and raises `JournalError` on any failure; the caller then
declines with PLATFORM_UNAVAILABLE. Both stores keep the same contract:
- the beneficiary's velocity limit is checked and the entry recorded in ONE transaction,
  serialised per beneficiary, so concurrent deciders (threads, workers, replicas on one
  PostgreSQL) can never pass the limit together;
- drain leases (`claim_batch`) are never held by two drainers at once; a crashed drainer's
  lease expires and the entry is claimed again with the same `advice_id`, which the
  platform stores idempotently, so a re-send is never a duplicate.

The stores live in journal_sqlite.py (embedded, one host) and journal_postgres.py (shared
by replicas); gateway.app picks one from the `--journal` location. This module holds what
they share: the data types, the abstract interface and the pure helpers.

Personal data: `payload.sealed` holds what the platform needs to judge the advice (the
request with the card named by serial, the served beneficiary, the professional's token),
sealed with AES-GCM by the caller under a key kept apart from the journal
(tiers_payant.secrets_at_rest); both stores drop it when the verdict is recorded
(`SEALED`). Every other column is free of identity data: `beneficiary_key` is a keyed hash.
Money is stored as integer cents.
"""
from __future__ import annotations

import abc
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Mapping

from tiers_payant.model import eur, money

ADVICE_OVERHEAD_BYTES = 400  # an advice's fields around its stored request, JSON-encoded
VERDICTS = ("confirmed", "adjusted", "rejected")
GET_FIELDS = ("reference", "advice_id", "operation", "at", "amc", "card_serial", "domain", "cause", "client_id",
              "state", "verdict", "verdict_reason", "drained_at", "failed_status", "failed_reason",
              "pending_answers", "attempts")
OPERATIONS = ("eligibility", "pec", "cancel", "invoice")  # cancel / invoice name their PEC in payload.pec_reference
PLATFORM_PEC = "platform_pec_number"  # the payload's key for the platform's number of a PEC judged agreed
SEALED = "sealed"  # the payload's key that holds the sealed request, dropped at the verdict
STATUS_KEYS = ("recorded", "pending", "drained", "confirmed", "adjusted", "rejected", "failed")


@dataclass(frozen=True)
class VelocityLimit:
    since: float
    max_count: int
    max_amount_eur: Decimal


class VelocityExceeded(Exception):
    """The beneficiary's offline total would pass the AMC's cumulative limit."""


class JournalError(Exception):
    """The journal cannot be written or read: never answer an unrecorded acceptance."""


@dataclass(frozen=True)
class OfflineEntry:
    advice_id: str  # uuid4 hex from the caller: the advice's idempotency key at the platform
    operation: str  # "eligibility" | "pec"
    at: float  # epoch seconds
    amc: str
    card_serial: str
    beneficiary_key: str  # keyed hash of NIR + birth date + rank, never the NIR
    domain: str
    amc_eur: Decimal  # 0 for eligibility
    cause: str  # "unreachable" | "timeout" | "breaker_open"
    payload: dict[str, Any]  # request body + offline answer (sensitive)
    client_id: str


@dataclass(frozen=True)
class Pending:
    """An entry leased to a drainer until `lease_until`."""

    reference: str
    entry: OfflineEntry
    attempts: int  # claims so far, this one included
    lease_until: float

    @property
    def advice_id(self) -> str:
        return self.entry.advice_id


class Journal(abc.ABC):
    """What the offline desk, the drain and the status page need from a journal store.
    Every method raises JournalError when the store cannot answer."""

    location: str  # for logs and errors; never holds a password

    @abc.abstractmethod
    def check(self) -> None:
        """Fail fast at start-up: connect, create the schema, take and release a write lock."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def bind_keys(self, keys: dict[str, bytes]) -> None:
        """Check that this process's keys are the journal's (by fingerprint, never the key).
        A SQLite journal has its keys beside it on one host: nothing to check."""

    def record(self, entry: OfflineEntry, reference: str | None = None,
               velocity: VelocityLimit | None = None) -> str:
        """Commit `entry` durably and return its reference ("J-" + 16 hex).

        Recording the same `advice_id` again returns the first reference (a retried call is
        not a second acceptance). `velocity` re-checks the beneficiary's offline total inside
        the write transaction: the stand-in decided on a snapshot, and two deciders at once
        for the same beneficiary must not both fit under the limit (raises VelocityExceeded).
        """
        return self.record_once(entry, reference, velocity)[0]

    @abc.abstractmethod
    def record_once(self, entry: OfflineEntry, reference: str | None = None,
                    velocity: VelocityLimit | None = None) -> tuple[str, dict[str, Any] | None]:
        """As `record`, and the payload already stored when this `advice_id` was recorded
        before (None when this call recorded it): a concurrent retry with one
        Idempotency-Key finds the first acceptance inside the same write transaction."""

    @abc.abstractmethod
    def record_many(self, items: list[tuple[OfflineEntry, str | None, VelocityLimit | None]]
                    ) -> list[tuple[str, dict[str, Any] | None] | Exception]:
        """`record_once` for several entries in ONE write transaction (one durable commit:
        gateway.offline.group_commit). Results in order: (reference, known payload) as
        `record_once` returns, or the exception for that entry alone (VelocityExceeded,
        ValueError); entries are checked in order, so a velocity limit sees the ones before
        it in the same batch. Raises JournalError when the commit itself fails: then none
        of them is durable."""

    @abc.abstractmethod
    def remember_answer(self, reference: str, client_id: str, fingerprint: str, answer: dict[str, Any],
                        now: float) -> dict[str, Any]:
        """Keep the first answer given to a keyed request that journaled nothing; returns the
        stored one ({"client_id", "fingerprint", "answer"}), this one unless a copy got there first."""

    @abc.abstractmethod
    def keyed_answer(self, reference: str) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    def counts(self, beneficiary_key: str, since: float, operation: str | None = None) -> tuple[int, Decimal]:
        """Offline acceptances of one beneficiary since `since` (all states): velocity input.
        `operation` narrows to "pec" or "eligibility" (a rights check commits no money)."""

    @abc.abstractmethod
    def claim_batch(self, limit: int, lease_s: float, now: float, owner: str,
                    max_bytes: int | None = None) -> list[Pending]:
        """Lease up to `limit` pending entries, oldest first, to `owner` until now + lease_s.
        `max_bytes` bounds the batch's stored payloads (see `trim_to_bytes`). An entry
        released with a back-off (`release`) is not claimable before its time."""

    @abc.abstractmethod
    def release(self, advice_ids: list[str], not_before: float, pending_answer: bool = False) -> None:
        """Give leased entries back, claimable again from `not_before` (a per-entry back-off);
        `pending_answer` counts a platform that said it is still judging them."""

    @abc.abstractmethod
    def set_aside(self, advice_id: str, status: int, reason: str, now: float) -> bool:
        """The platform refuses this advice for good: out of the drain, kept with its status
        and reason for an operator (`requeue` puts it back)."""

    @abc.abstractmethod
    def requeue(self, reference: str) -> bool: ...

    @abc.abstractmethod
    def failed(self, limit: int = 20) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    def record_verdict(self, advice_id: str, verdict: str, reason: str | None,
                       platform_amc_eur: Decimal | None, now: float, pec_number: str | None = None) -> bool:
        """Mark an entry drained with the platform's verdict; False when already drained (or
        unknown). Exposure = euros accepted offline that the platform did not agree to pay.
        `pec_number`: the platform's number of an offline PEC it agreed, kept in the payload
        (PLATFORM_PEC) so that the agreement can be invoiced online afterwards."""

    @abc.abstractmethod
    def status(self) -> dict[str, Any]: ...

    @abc.abstractmethod
    def get(self, reference: str) -> dict[str, Any] | None:
        """The stored entry (payload holds the offline answer) and its drain state."""


# -- pure helpers shared by both stores ------------------------------------------------
def new_reference() -> str:
    """For callers that must put the reference in the answer before recording it."""
    return "J-" + secrets.token_hex(8)


def cents(amount: Decimal) -> int:
    return int(money(amount) * 100)


def euros(value: int | None) -> Decimal:
    return money(Decimal(value or 0) / 100)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(value: Any) -> str:
    return json.dumps(value, default=_jsonable, separators=(",", ":"))


def validate(entry: OfflineEntry) -> None:
    if entry.operation not in OPERATIONS:
        raise ValueError(f"unknown operation {entry.operation!r}")
    if entry.cause not in ("unreachable", "timeout", "breaker_open"):
        raise ValueError(f"unknown cause {entry.cause!r}")
    if entry.beneficiary_key.isdigit():  # looks like a NIR in clear: refuse to store it
        raise ValueError("beneficiary_key must be a keyed hash, not an identifier")


def prepared(items: list) -> tuple[list, list]:  # type: ignore[type-arg]
    """record_many's first pass: (results with a placeholder or the entry's own ValueError,
    [(index, entry, reference, velocity, row)] of the entries to insert)."""
    results: list = []
    rows: list = []
    for i, (entry, reference, velocity) in enumerate(items):
        try:
            validate(entry)
            row = entry_row(entry)
        except (ValueError, TypeError) as exc:
            results.append(exc if isinstance(exc, ValueError) else ValueError(str(exc)))
            continue
        results.append(ValueError("not recorded"))
        rows.append((i, entry, reference, velocity, row))
    return results, rows


def entry_row(entry: OfflineEntry) -> tuple:
    """The insert's values after `reference`, in the column order both schemas share."""
    return (entry.advice_id, entry.operation, entry.at, entry.amc, entry.card_serial, entry.beneficiary_key,
            entry.domain, cents(entry.amc_eur), entry.cause, entry.client_id, dumps(entry.payload))


def over_limit(count: int, total_cents: int, entry: OfflineEntry, velocity: VelocityLimit) -> bool:
    return count + 1 > velocity.max_count or total_cents + cents(entry.amc_eur) > cents(velocity.max_amount_eur)


def trim_to_bytes(rows: list[Mapping[str, Any]], max_bytes: int | None) -> list[Mapping[str, Any]]:
    """The first row always, the next ones while their payloads fit under `max_bytes` (the
    advice body grows with them, and the platform refuses a body over its limit)."""
    if max_bytes is None:
        return rows
    total, kept = 0, []
    for r in rows:
        total += int(r["size"]) + ADVICE_OVERHEAD_BYTES
        if kept and total > max_bytes:
            break
        kept.append(r)
    return kept


def entry_of(r: Mapping[str, Any]) -> OfflineEntry:
    return OfflineEntry(r["advice_id"], r["operation"], r["at"], r["amc"], r["card_serial"], r["beneficiary_key"],
                        r["domain"], euros(r["amc_cents"]), r["cause"], json.loads(r["payload"]), r["client_id"])


def agreed_cents(verdict: str, accepted: int, platform_amc_eur: Decimal | None) -> int:
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}")
    if verdict == "adjusted" and platform_amc_eur is None:
        raise ValueError("an adjusted verdict needs the platform's amount")
    return {"confirmed": accepted, "rejected": 0}.get(verdict, cents(platform_amc_eur or Decimal(0)))


def get_of(r: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: r[k] for k in GET_FIELDS}
    out["amc_eur"] = eur(euros(r["amc_cents"]))
    out["payload"] = json.loads(r["payload"])
    for key in ("platform_amc", "exposure"):
        value = r[f"{key}_cents"]
        out[f"{key}_eur"] = None if value is None else eur(euros(value))
    return out


def status_of(row: tuple) -> dict[str, Any]:
    """`row`: the seven STATUS_KEYS counts, exposure cents (offline PECs whose cancellation the
    platform confirmed carry none: nothing is delivered or paid under them), oldest pending
    `at`, set-aside cents, confirmed cancellations."""
    out: dict[str, Any] = {k: int(row[i] or 0) for i, k in enumerate(STATUS_KEYS)}
    out["exposure_eur"] = eur(euros(row[7]))
    out["oldest_pending_at"] = row[8]
    out["failed_eur"] = eur(euros(row[9]))  # accepted offline, not judged: set aside
    out["cancelled"] = int(row[10] or 0)  # offline cancellations the platform confirmed
    return out


def failed_of(rows: list[tuple]) -> list[dict[str, Any]]:
    return [{"reference": r[0], "operation": r[1], "at": r[2], "status": r[3], "reason": r[4], "set_aside_at": r[5]}
            for r in rows]


def keyed_of(row: tuple | None) -> dict[str, Any] | None:
    return None if row is None else {"client_id": row[0], "fingerprint": row[1], "answer": json.loads(row[2])}


def fingerprint(key: bytes) -> str:
    """Names a key without revealing it: HMAC-SHA256 of a fixed label, 16 bytes hex."""
    return hmac.new(key, b"tiers-payant key fingerprint", hashlib.sha256).hexdigest()[:32]


def redacted(url: str) -> str:
    """A connection URL fit for logs: the password, if any, replaced."""
    head, sep, tail = url.partition("@")
    if not sep or "://" not in head or ":" not in head.split("://", 1)[1]:
        return url
    scheme, creds = head.split("://", 1)
    return f"{scheme}://{creds.split(':', 1)[0]}:***@{tail}"
