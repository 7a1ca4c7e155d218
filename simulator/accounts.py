"""Sandbox professional accounts: who they are is a pure function of the seed. Pure.

Account k is an optician (profession 28) when k is even and an audioprothésiste (26) when
odd, with an RPPS number drawn from the seed. Its secret is NOT derived from anything: it is
issued at random per state directory and stored hashed (`simulator.credentials`).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

OPTICIAN, AUDIOLOGIST = "28", "26"  # ANS TRE_G15 profession codes
_PREFIX = {OPTICIAN: "opt", AUDIOLOGIST: "aud"}
_RPPS_SPAN = 10**9  # the 9 digits after the leading "1"


@dataclass(frozen=True)
class Account:
    index: int
    client_id: str
    profession: str  # "28" opticien-lunetier, "26" audioprothésiste
    rpps: str  # 11 digits, Luhn-valid


_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # digit d -> digit sum of 2d


def luhn_check_digit(digits: str) -> str:
    """The digit that, appended to `digits`, makes the Luhn sum a multiple of 10."""
    rev = digits[::-1]  # from the right, the first digit is doubled once the check digit follows
    total = sum(map(_DOUBLED.__getitem__, map(int, rev[0::2]))) + sum(map(int, rev[1::2]))
    return str(-total % 10)


def luhn_ok(digits: str) -> bool:
    if not isinstance(digits, str) or len(digits) < 2 or not (digits.isascii() and digits.isdigit()):
        return False
    return luhn_check_digit(digits[:-1]) == digits[-1]


def _seed_int(seed: int, label: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{label}:{seed}".encode(), digest_size=8).digest(), "big")


def _rpps(seed: int, k: int) -> str:
    """'1' + 9 digits + Luhn digit. The 9 digits are an affine bijection of k whose
    coefficients come from a hash of the seed, so RPPS numbers look random yet never
    collide (for k < 10^9), which a plain hash of (seed, k) would not promise."""
    mult = _seed_int(seed, "rpps-mult") % _RPPS_SPAN | 1
    if mult % 5 == 0:
        mult += 2  # coprime to 10, so k -> mult*k + add is a bijection mod 10^9
    add = _seed_int(seed, "rpps-add") % _RPPS_SPAN
    body = f"1{(mult * k + add) % _RPPS_SPAN:09d}"
    return body + luhn_check_digit(body)


def account(seed: int, k: int) -> Account:
    if k < 0:
        raise ValueError("account index must be >= 0")
    profession = OPTICIAN if k % 2 == 0 else AUDIOLOGIST
    return Account(k, f"{_PREFIX[profession]}-{k:06d}", profession, _rpps(seed, k))


def account_by_client_id(seed: int, client_id: str, count: int) -> Account | None:
    """The account behind `client_id`, or None if it is malformed or not one of the first `count`."""
    if not isinstance(client_id, str) or len(client_id) < 10 or client_id[3] != "-":
        return None
    prefix, number = client_id[:3], client_id[4:]
    if not (number.isascii() and number.isdigit()):
        return None
    k = int(number)
    if f"{k:06d}" != number or k >= count:  # one spelling per account: no "opt-0000002"
        return None
    if prefix != ("opt" if k % 2 == 0 else "aud"):
        return None
    return account(seed, k)


def service_account(client_id: str) -> Account | None:
    """A gateway's service account (`gw-1`, `gw-2`...): it fetches keys and lists and sends advices."""
    if not (isinstance(client_id, str) and client_id.startswith("gw-") and 3 < len(client_id) <= 9
            and client_id[3:].isascii() and client_id[3:].isdigit() and not client_id[3:].startswith("0")):
        return None
    return Account(0, client_id, "00", "00000000000")


def known_account(seed: int, client_id: str, count: int) -> Account | None:
    """A professional account among the first `count`, or a service account, or None."""
    return service_account(client_id) if str(client_id).startswith("gw-") else account_by_client_id(seed, client_id,
                                                                                                   count)
