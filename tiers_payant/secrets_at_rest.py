"""Keys kept apart from the data they protect, and the sealing of sensitive journal fields.

`installation_key(path)` reads a random 32-byte key from a private file, creating it
(0600, O_EXCL so concurrent workers agree on one) on first use: pseudonym keys and the
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
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        with open(path, "rb") as f:
            key = f.read()
        if len(key) != KEY_BYTES:
            raise ValueError(f"{path}: not a {KEY_BYTES}-byte key (damaged? restore it from your key backup)")
        return key
    key = secrets.token_bytes(KEY_BYTES)
    try:
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    return key


def seal(key: bytes, value: Any, context: str) -> str:
    nonce = secrets.token_bytes(12)
    data = json.dumps(value, separators=(",", ":"), default=str).encode()
    return base64.b64encode(nonce + AESGCM(key).encrypt(nonce, data, context.encode())).decode()


def unseal(key: bytes, blob: str, context: str) -> Any:
    raw = base64.b64decode(blob)
    return json.loads(AESGCM(key).decrypt(raw[:12], raw[12:], context.encode()))
