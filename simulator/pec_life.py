"""The PEC's life at the platform: cotation, reservation, annulation, facturation, expiry.

An agreement (`POST /v1/pec`) is `accepted` and *reserves* its equipment: the renewal
clock counts it, so a second shop cannot get the same glasses paid twice. It then ends in
one of three ways:
- `invoiced`: the delivery is invoiced (amounts at most those agreed, plus a documented
  tolerance; delivered between the agreement's day and `expires_on`); the reservation
  becomes consumption, dated by the delivery;
- `cancelled`: the quote was abandoned; the reservation is freed;
- `expired`: a day after `expires_on` without an invoice; the reservation is freed. No
  background job: every reader judges with the day, and the first one writes the event.
A cotation (`POST /v1/quotes`) prices the same request and records nothing at all.
Cancellations and invoices a gateway made offline are judged in simulator.pec_advices.
"""
from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime, timezone
from decimal import Decimal

from tiers_payant.idempotency import IN_PROGRESS_WAIT_S, fingerprint, in_progress, reused
from tiers_payant.model import eur, money
from tiers_payant.pec_request import check_pec_request
from tiers_payant.problems import FieldError, Problem
from tiers_payant.schemas import CancelIn, InvoiceIn, PecRequest
from tiers_payant.tokens import Principal

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS pec_life (pec_number TEXT PRIMARY KEY, state TEXT NOT NULL,"
    " beneficiary_key TEXT NOT NULL, on_date TEXT NOT NULL, expires_on TEXT NOT NULL, updated_at REAL NOT NULL,"
    " invoice TEXT)",
    "CREATE TABLE IF NOT EXISTS reservations (pec_number TEXT NOT NULL, beneficiary_key TEXT NOT NULL,"
    " item TEXT NOT NULL, on_date TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS reservations_by_key ON reservations (beneficiary_key)",
    "CREATE TABLE IF NOT EXISTS pec_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, pec_number TEXT NOT NULL,"
    " at TEXT NOT NULL, event TEXT NOT NULL, detail TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS pec_events_by_pec ON pec_events (pec_number)",
]
LEGACY_STATUS = {"accepted": "valid", "expired": "expired", "cancelled": "closed", "invoiced": "closed"}


def ensure_schema(store) -> None:
    with store.tx() as db:
        for statement in SCHEMA:
            db.execute(statement)


def _instant(now: float) -> str:
    return datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="seconds")


def _event(db, pec_number: str, at: str, event: str, detail: dict | None = None) -> None:
    db.execute("INSERT INTO pec_events (pec_number, at, event, detail) VALUES (?,?,?,?)",
               (pec_number, at, event, json.dumps(detail or {})))


def reserve(db, pec_number: str, beneficiary_key: str, items: list[str], on: date, expires_on: str,
            now: float) -> None:
    """Inside the transaction that records an accepted agreement: reserve its equipment."""
    db.execute("INSERT INTO pec_life (pec_number, state, beneficiary_key, on_date, expires_on, updated_at)"
               " VALUES (?, 'accepted', ?, ?, ?, ?)", (pec_number, beneficiary_key, on.isoformat(), expires_on, now))
    db.executemany("INSERT INTO reservations (pec_number, beneficiary_key, item, on_date) VALUES (?,?,?,?)",
                   [(pec_number, beneficiary_key, item, on.isoformat()) for item in sorted(set(items))])
    _event(db, pec_number, _instant(now), "accepted", {"on": on.isoformat(), "expires_on": expires_on})


def held(store, beneficiary_key: str, on: date) -> dict[str, str]:
    """Latest day per item: consumption (invoiced, or recorded before the life cycle) and the
    reservations of agreements still open on `on`."""
    rows = store.query(
        "SELECT item, MAX(d) AS d FROM ("
        " SELECT item, on_date AS d FROM consumption WHERE beneficiary_key=?"
        " UNION ALL SELECT r.item, r.on_date FROM reservations r JOIN pec_life p ON p.pec_number = r.pec_number"
        "  WHERE r.beneficiary_key=? AND p.state='accepted' AND p.expires_on >= ?) GROUP BY item",
        (beneficiary_key, beneficiary_key, on.isoformat()))
    return {r["item"]: r["d"] for r in rows}


def cancel_agreement(db, pec_number: str, now: float, detail: dict) -> None:
    db.execute("UPDATE pec_life SET state='cancelled', updated_at=? WHERE pec_number=?", (now, pec_number))
    db.execute("DELETE FROM reservations WHERE pec_number=?", (pec_number,))
    _event(db, pec_number, _instant(now), "cancelled", detail)


def settle_expiry(db, pec_number: str, row, today: date) -> str:
    """The state on `today`; an open agreement past `expires_on` expires now (written once)."""
    if row["state"] is None:  # recorded before the life cycle: consumption already definitive
        return "invoiced"
    if row["state"] == "accepted" and date.fromisoformat(row["expires_on"]) < today:
        if db.execute("UPDATE pec_life SET state='expired' WHERE pec_number=? AND state='accepted'",
                      (pec_number,)).rowcount:
            db.execute("DELETE FROM reservations WHERE pec_number=?", (pec_number,))
            day_after = date.fromordinal(date.fromisoformat(row["expires_on"]).toordinal() + 1)
            _event(db, pec_number, day_after.isoformat(), "expired")
        return "expired"
    return row["state"]


def invoice_agreement(db, pec_number: str, row, body: InvoiceIn, delivered: date, today: date,
                      tolerance: Decimal, now: float, detail: dict | None = None) -> dict:
    """Close an open agreement with its invoice, inside the caller's transaction: the amounts
    at most those agreed plus `tolerance`, delivered within its validity; its reservation
    becomes consumption dated by the delivery. Raises the Problem that refuses it."""
    state = settle_expiry(db, pec_number, row, today)
    if state != "accepted":
        raise Problem("PEC_NOT_OPEN", f"the agreement is {state}: it can no longer be invoiced")
    if not date.fromisoformat(row["on_date"]) <= delivered <= date.fromisoformat(row["expires_on"]):
        raise Problem("INVOICE_OUTSIDE_VALIDITY", f"delivered on {delivered}, the agreement runs from "
                      f"{row['on_date']} to {row['expires_on']}", [FieldError("/delivered_on", "outside")])
    agreed = json.loads(row["answer"])
    above = [FieldError(f"/{k}", f"{eur(getattr(body, k))} is above the agreed {agreed[k]}"
                        f" (tolerance {eur(tolerance)})", "INVOICE_ABOVE_AGREEMENT")
             for k in ("amo", "amc") if money(getattr(body, k)) > money(agreed[k]) + tolerance]
    if above:
        raise Problem("INVOICE_ABOVE_AGREEMENT", "the invoice asks more than the agreement", above)
    invoice = {"invoice_number": body.invoice_number, "delivered_on": delivered.isoformat(),
               "amo": eur(body.amo), "amc": eur(body.amc)}
    db.execute("UPDATE pec_life SET state='invoiced', updated_at=?, invoice=? WHERE pec_number=?",
               (now, json.dumps(invoice), pec_number))
    db.execute("INSERT INTO consumption (beneficiary_key, item, on_date, source)"
               " SELECT beneficiary_key, item, ?, pec_number FROM reservations WHERE pec_number=?",
               (delivered.isoformat(), pec_number))
    db.execute("DELETE FROM reservations WHERE pec_number=?", (pec_number,))
    _event(db, pec_number, _instant(now), "invoiced", {**invoice, **(detail or {})})
    return invoice


class PecLife:
    def __init__(self, platform) -> None:
        self.platform = platform
        self.store = platform.store
        ensure_schema(self.store)
        self.tolerance = money(Decimal(platform.settings.invoice_tolerance_eur))

    # ---- cotation ----
    def quote(self, req: PecRequest, principal: Principal, now: float) -> dict:
        p = self.platform
        on = req.date or p.today(now)
        lines = check_pec_request(req, principal, on)
        r, result = p.judge_pec(req, lines, on)
        return {**p._answer(req, r, result, on), "pec_number": None, "expires_on": None}

    # ---- reading ----
    def _row(self, db, pec_number: str, principal: Principal):
        row = db.execute("SELECT p.answer, p.client_id, l.state, l.on_date, l.expires_on, l.invoice"
                         " FROM pecs p LEFT JOIN pec_life l ON l.pec_number = p.pec_number WHERE p.pec_number=?",
                         (pec_number,)).fetchone()
        if row is None or row["client_id"] != principal.client_id:
            raise Problem("NOT_FOUND", "no PEC with this number for this account")
        return row

    def _view(self, db, pec_number: str, state: str) -> dict:
        row = db.execute("SELECT answer FROM pecs WHERE pec_number=?", (pec_number,)).fetchone()
        answer = json.loads(row["answer"])
        life = db.execute("SELECT invoice FROM pec_life WHERE pec_number=?", (pec_number,)).fetchone()
        events = [{"at": e["at"], "event": e["event"], "detail": json.loads(e["detail"])} for e in db.execute(
            "SELECT at, event, detail FROM pec_events WHERE pec_number=? ORDER BY seq", (pec_number,))]
        return {"pec_number": pec_number, "state": state, "status": LEGACY_STATUS[state],
                "decision": answer["decision"], "amo": answer["amo"], "amc": answer["amc"],
                "patient": answer["patient"], "expires_on": answer["expires_on"], "lines": answer["lines"],
                "history": events, "invoice": json.loads(life["invoice"]) if life and life["invoice"] else None}

    def state(self, pec_number: str, principal: Principal, now: float) -> dict:
        with self.store.tx() as db:
            row = self._row(db, pec_number, principal)
            return self._view(db, pec_number, settle_expiry(db, pec_number, row, self.platform.today(now)))

    # ---- state changes: one transaction each, under the platform's Idempotency-Key rules ----
    def _change(self, principal: Principal, idem: str | None, action: str, raw: bytes, now: float,
                apply) -> tuple[dict, bytes, bool]:  # type: ignore[no-untyped-def]
        """(answer, its bytes, replayed). The key's check, the change and the stored answer in one
        write transaction, as for POST /v1/pec: a replay gets the first answer's bytes; the key
        with another payload or on another operation is 422; still being decided, 409."""
        fp = fingerprint(raw)
        try:
            with self.store.tx(wait_s=IN_PROGRESS_WAIT_S) as db:
                if idem:
                    known = db.execute("SELECT fingerprint, operation, body FROM idempotency"
                                       " WHERE client_id=? AND idem_key=?", (principal.client_id, idem)).fetchone()
                    if known:
                        if (known["fingerprint"], known["operation"]) != (fp, action):
                            raise reused()
                        return json.loads(known["body"]), bytes(known["body"]), True
                answer = apply(db)
                body = json.dumps(answer).encode()
                if idem:
                    db.execute("INSERT INTO idempotency (client_id, idem_key, fingerprint, operation, status, body,"
                               " created_at) VALUES (?,?,?,?,?,?,?)", (principal.client_id, idem, fp, action, 200,
                                                                       body, now))
                return answer, body, False
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise
            if idem:
                raise in_progress() from None
            raise Problem("SERVICE_UNAVAILABLE", "the platform is busy; retry", headers={"Retry-After": "1"}) from None

    def cancel(self, pec_number: str, body: CancelIn, principal: Principal, idem: str | None, raw: bytes,
               now: float) -> tuple[dict, bytes, bool]:
        def apply(db) -> dict:  # type: ignore[no-untyped-def]
            row = self._row(db, pec_number, principal)
            state = settle_expiry(db, pec_number, row, self.platform.today(now))
            if state not in ("accepted", "cancelled"):
                raise Problem("PEC_NOT_OPEN", f"the agreement is {state}: it can no longer be cancelled")
            if state == "accepted":  # cancelling twice is harmless: the second answers the same state
                cancel_agreement(db, pec_number, now, {"reason": body.reason})
            return self._view(db, pec_number, "cancelled")
        return self._change(principal, idem, f"cancel {pec_number}", raw, now, apply)

    def invoice(self, pec_number: str, body: InvoiceIn, principal: Principal, idem: str | None, raw: bytes,
                now: float) -> tuple[dict, bytes, bool]:
        today = self.platform.today(now)
        delivered = body.delivered_on or today
        if delivered > today:
            raise Problem("VALIDATION_FAILED", "the delivery is dated in the future",
                          [FieldError("/delivered_on", "after today")])
        def apply(db) -> dict:  # type: ignore[no-untyped-def]
            row = self._row(db, pec_number, principal)
            invoice_agreement(db, pec_number, row, body, delivered, today, self.tolerance, now)
            return self._view(db, pec_number, "invoiced")
        return self._change(principal, idem, f"invoice {pec_number}", raw, now, apply)
