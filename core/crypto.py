"""Secrets at rest (WeChat AppSecret, WeChat Pay keys): AES-256-GCM with a key derived from
``STOREPLUG_SECRET_KEY`` by HKDF, bound to the tenant and the field through the associated
data, so a ciphertext copied to another tenant or column does not decrypt."""

from __future__ import annotations

import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = b"\x01"


def _key(secret_key: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        secret_key.encode()
    )


def encrypt(secret_key: str, tenant_id: str, field: str, plaintext: str) -> bytes:
    nonce = os.urandom(12)
    aad = f"{tenant_id}:{field}".encode()
    sealed = AESGCM(_key(secret_key, b"storeplug at-rest v1")).encrypt(
        nonce, plaintext.encode(), aad
    )
    return VERSION + nonce + sealed


def decrypt(secret_key: str, tenant_id: str, field: str, blob: bytes) -> str:
    if not blob or blob[:1] != VERSION:
        raise ValueError("unknown ciphertext version")
    aad = f"{tenant_id}:{field}".encode()
    try:
        plain = AESGCM(_key(secret_key, b"storeplug at-rest v1")).decrypt(
            blob[1:13], blob[13:], aad
        )
    except InvalidTag:
        raise ValueError("ciphertext does not decrypt with this key, tenant and field") from None
    return plain.decode()


def fingerprint(value: str) -> str:
    """What an API may show instead of a secret: enough to tell two values apart."""
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:12]
