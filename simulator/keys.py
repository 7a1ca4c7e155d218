"""The platform's signing keys: random per state directory, kept in `<state>/keys/keyring.json`.

Nothing here is derived from the seed. The population is a pure function of the seed (so a
test case is known in advance), but who may sign for an AMC is not: two state directories
with the same seed serve different JWKS, and the public JWKS says nothing about a private
key. The first start (`simulator serve`) creates one Ed25519 key per AMC and one for access
tokens; `python -m simulator keys rotate` or the control API's `POST /v1/keys/rotate` add
versions (see `key_rotation` for the overlap rule).

The file is 0600 in a 0700 directory, written whole under an exclusive `flock` and renamed
into place; every reader (each gunicorn worker, the `cards` command) re-reads it when its
inode or modification time changes, so a rotation reaches every process at its next use.
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import secrets
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .key_rotation import (TOKEN_FAMILY, KeyEntry, card_family, current, missing_families, published, retired_now,
                           rotated, unchanged_between)

FORMAT = 1
# Overlaps (Settings.overlap_s; SIM_CARD_KEY_OVERLAP_S, SIM_TOKEN_KEY_OVERLAP_S) are assumptions:
# a replaced card key stays published for a week, long enough for the insured's app to fetch
# its re-signed card; a replaced token key for two token lifetimes, so no token issued before
# dies early.


class KeyringMissing(RuntimeError):
    """The state directory has no keyring yet (the platform never started there)."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_key() -> tuple[bytes, bytes]:
    """(public, private) raw bytes of a fresh random Ed25519 key."""
    private = secrets.token_bytes(32)
    public = Ed25519PrivateKey.from_private_bytes(private).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return public, private


def public_jwk(key: Ed25519PublicKey, kid: str, use: str) -> dict[str, str]:
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": kid, "x": _b64(raw),
            "tp_use": use}  # `use` only: RFC 7517 section 4.3 says not with key_ops too


def _to_json(entries: tuple[KeyEntry, ...]) -> str:
    return json.dumps({"format": FORMAT, "keys": [
        {"family": e.family, "version": e.version, "created_at": e.created_at, "retires_at": e.retires_at,
         "public": _b64(e.public), "private": _b64(e.private)} for e in entries]}, indent=1)


def _from_json(text: str) -> tuple[KeyEntry, ...]:
    doc = json.loads(text)
    if doc.get("format") != FORMAT:
        raise ValueError(f"keyring format {doc.get('format')!r}, expected {FORMAT}")
    return tuple(KeyEntry(k["family"], int(k["version"]), float(k["created_at"]),
                          None if k["retires_at"] is None else float(k["retires_at"]), _unb64(k["public"]),
                          _unb64(k["private"])) for k in doc["keys"])


class Keyring:
    """A state directory's keys (`directory` None: in memory only, for unit tests and tables)."""

    def __init__(self, directory: str | os.PathLike | None, entries: tuple[KeyEntry, ...] = ()) -> None:
        self.dir = Path(directory) if directory is not None else None
        self._entries, self._seen, self._lock = entries, None, threading.Lock()
        self._publics: dict[bytes, Ed25519PublicKey] = {}
        self._privates: dict[bytes, Ed25519PrivateKey] = {}
        self._view: tuple | None = None  # (entries, from, until, {kid: key}, {token kid: key})

    # ---- opening ----
    @classmethod
    def ensure(cls, directory: str | os.PathLike, amc_numbers: list[str], now: float) -> "Keyring":
        """The directory's keyring, with a key made for every family that has none yet."""
        ring = cls(Path(directory) / "keys")
        families = [card_family(n) for n in amc_numbers] + [TOKEN_FAMILY]
        with ring._writing() as entries:
            missing = missing_families(entries, families)
            if missing:
                entries = entries + tuple(KeyEntry(f, 1, now, None, *new_key()) for f in missing)
                ring._write(entries)
        return ring

    @classmethod
    def open(cls, directory: str | os.PathLike) -> "Keyring":
        ring = cls(Path(directory) / "keys")
        if not ring.path.exists():
            raise KeyringMissing(f"no keyring in {directory}: start the platform with --state-dir {directory} first")
        ring.entries()
        return ring

    @classmethod
    def in_memory(cls, amc_numbers: list[str], now: float = 0.0) -> "Keyring":
        families = [card_family(n) for n in amc_numbers] + [TOKEN_FAMILY]
        return cls(None, tuple(KeyEntry(f, 1, now, None, *new_key()) for f in families))

    @property
    def path(self) -> Path:
        assert self.dir is not None
        return self.dir / "keyring.json"

    # ---- reading ----
    def entries(self) -> tuple[KeyEntry, ...]:
        if self.dir is None:
            return self._entries
        st = os.stat(self.path)
        seen = (st.st_ino, st.st_mtime_ns, st.st_size)
        if seen != self._seen:
            with self._lock:
                self._entries, self._seen = _from_json(self.path.read_text()), seen
        return self._entries

    def public(self, e: KeyEntry) -> Ed25519PublicKey:
        key = self._publics.get(e.public)
        if key is None:
            key = self._publics[e.public] = Ed25519PublicKey.from_public_bytes(e.public)
        return key

    def signer(self, family: str) -> tuple[str, Ed25519PrivateKey]:
        """(kid, private key) of the family's current key."""
        e = current(self.entries(), family)
        if e is None or not e.private:
            raise KeyError(f"no signing key for {family}")
        key = self._privates.get(e.private)
        if key is None:
            key = self._privates[e.private] = Ed25519PrivateKey.from_private_bytes(e.private)
        return e.kid, key

    def card_signer(self, amc_number: str) -> tuple[str, Ed25519PrivateKey]:
        return self.signer(card_family(amc_number))

    def _published(self, at: float) -> tuple[dict[str, Ed25519PublicKey], dict[str, Ed25519PublicKey]]:
        """({kid: key}, {token kid: key}) published at `at`, kept until the keyring changes or a
        retirement passes: every authenticated call and card check asks, on the hot path."""
        entries, view = self.entries(), self._view
        if view is not None and view[0] is entries and view[1] <= at < view[2]:
            return view[3], view[4]
        keys = {e.kid: self.public(e) for e in published(entries, at)}
        tokens = {kid: key for kid, key in keys.items() if kid.startswith(TOKEN_FAMILY + "-")}
        self._view = (entries, *unchanged_between(entries, at), keys, tokens)
        return keys, tokens

    def public_key(self, kid: str, now: float) -> Ed25519PublicKey | None:
        """The published key named `kid` at `now`, or None (unknown, retired, malformed)."""
        return self._published(now)[0].get(kid)

    def token_keys(self, at: float) -> dict[str, Ed25519PublicKey]:
        """Token keys by kid as they were published at `at` (now, or an advice's decision time)."""
        return self._published(at)[1]

    def jwks(self, now: float, families: set[str] | None = None) -> dict:
        return {"keys": [public_jwk(self.public(e), e.kid, e.use) for e in published(self.entries(), now)
                         if families is None or e.family in families]}

    # ---- changing ----
    def rotate(self, family: str, now: float, overlap_s: float) -> dict:
        """A new current key for `family`; the replaced one stays published for `overlap_s`."""
        with self._writing() as entries:
            old = current(entries, family)
            if old is None:
                raise KeyError(f"no key family {family}")
            after = rotated(entries, family, *new_key(), now, overlap_s)
            self._write(after)
        new = current(after, family)
        return {"family": family, "kid": new.kid, "replaced": old.kid, "replaced_retires_at": now + overlap_s}

    def retire(self, kid: str, now: float) -> dict:
        """End a replaced key's overlap now (a key believed compromised)."""
        with self._writing() as entries:
            self._write(retired_now(entries, kid, now))
        return {"kid": kid, "retired_at": now}

    @contextmanager
    def _writing(self) -> Iterator[tuple[KeyEntry, ...]]:
        if self.dir is None:
            yield self._entries
            return
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        fd = os.open(self.dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # writers (serve, the CLI, any worker's control call) one at a time
            yield _from_json(self.path.read_text()) if self.path.exists() else ()
        finally:
            os.close(fd)

    def _write(self, entries: tuple[KeyEntry, ...]) -> None:
        if self.dir is None:
            self._entries = entries
            return
        tmp = self.dir / f".keyring.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, _to_json(entries).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)  # readers see the old file or the new one, never half
        dfd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
