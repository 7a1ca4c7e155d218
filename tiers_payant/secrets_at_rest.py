"""Keys kept apart from the data they protect, and the sealing of sensitive journal fields.

`installation_key(path)` reads a random 32-byte key from a private file, creating it
(0600, linked into place whole, so concurrent workers agree on one) on first use: pseudonym keys and the
journal key are per installation, never constants in code nor derived from anything public.

`seal`/`unseal` are AES-256-GCM (cryptography) with a random 96-bit nonce, bound to a
context string (the entry's id) as associated data, so a sealed blob copied onto another
entry does not open.
"""
from __future__ import annotations

import base64
import json
import os
import secrets
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32


def installation_key(path: str) -> bytes:
    """Written whole to a temporary file, then linked into place: link fails if the key
    exists, so of processes starting together one creates it, and no reader ever sees a
    half-written key."""
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    tmp = f"{path}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_bytes(KEY_BYTES))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process made it first: use theirs
    finally:
        os.unlink(tmp)
    return _read_key(path)


def _read_key(path: str) -> bytes:
    with open(path, "rb") as f:
        key = f.read()
    if len(key) != KEY_BYTES:
        raise ValueError(f"{path}: not a {KEY_BYTES}-byte key (damaged? restore it from your key backup)")
    return key


def seal(key: bytes, value: Any, context: str) -> str:
    nonce = secrets.token_bytes(12)
    data = json.dumps(value, separators=(",", ":"), default=str).encode()
    return base64.b64encode(nonce + AESGCM(key).encrypt(nonce, data, context.encode())).decode()


def unseal(key: bytes, blob: str, context: str) -> Any:
    raw = base64.b64decode(blob)
    return json.loads(AESGCM(key).decrypt(raw[:12], raw[12:], context.encode()))
