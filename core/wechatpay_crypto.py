"""The crypto of WeChat Pay API v3, byte for byte as WeChat specifies it (all of it through
the ``cryptography`` library):

- Request signature: ``WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",signature="…",
  timestamp="…",serial_no="…"`` in ``Authorization``, where ``signature`` is base64 of
  SHA256withRSA (PKCS#1 v1.5) with the merchant's private key over
  ``METHOD\\nPATH_WITH_QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n`` (BODY empty for a GET).
- Mini-program ``paySign``: the same signature over ``appId\\ntimeStamp\\nnonceStr\\npackage\\n``.
- WeChat's own signature, on every answer and every notification: headers
  ``Wechatpay-Timestamp``, ``Wechatpay-Nonce``, ``Wechatpay-Signature`` and ``Wechatpay-Serial``;
  the message is ``TIMESTAMP\\nNONCE\\nBODY\\n`` over the raw body bytes, verified with the WeChat
  Pay public key (or a platform certificate's key) whose id / serial is ``Wechatpay-Serial``;
  a timestamp more than five minutes off is refused, as WeChat's SDKs do.
- A notification's resource: AEAD_AES_256_GCM with the 32-byte APIv3 key, the resource's
  ``nonce`` and ``associated_data`` (AAD); ``ciphertext`` is base64 of ciphertext + 16-byte tag.

Parsed keys are cached by their PEM text: loading (and checking) an RSA key costs more than a
signature.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import string
import time
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

AUTH_SCHEME = "WECHATPAY2-SHA256-RSA2048"
MAX_SKEW_S = 300  # WeChat's five minutes, either direction
MIN_RSA_BITS = 2048
NONCE_ALPHABET = string.ascii_uppercase + string.digits


class BadKey(ValueError):
    """A PEM that is not a usable RSA key; the message says why (shown to the merchant)."""


class SignatureRefused(ValueError):
    """WeChat's signature headers are missing, stale, for another key or do not verify."""


def nonce_str(length: int = 32) -> str:
    return "".join(secrets.choice(NONCE_ALPHABET) for _ in range(length))


def message(*parts: str | bytes) -> bytes:
    """WeChat's signed message: every part followed by ``\\n``."""
    return b"".join((p.encode() if isinstance(p, str) else p) + b"\n" for p in parts)


@lru_cache(maxsize=256)
def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    """The merchant's API private key (PKCS#8 or PKCS#1 PEM, unencrypted, RSA ≥ 2048)."""
    if "PRIVATE KEY-----" not in pem:
        raise BadKey("not a PEM private key")
    try:
        key = serialization.load_pem_private_key(pem.strip().encode(), password=None)
    except TypeError:
        raise BadKey(
            "the private key is encrypted; paste the unencrypted apiclient_key.pem"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise BadKey("the private key does not parse") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise BadKey("not an RSA private key")
    if key.key_size < MIN_RSA_BITS:
        raise BadKey(f"RSA key of {key.key_size} bits; WeChat Pay needs {MIN_RSA_BITS}")
    return key


@lru_cache(maxsize=256)
def load_platform_key(pem: str) -> tuple[rsa.RSAPublicKey, int | None]:
    """WeChat Pay's public key (``pub_key.pem``) or a platform certificate: (the RSA public
    key, the certificate's serial number or None for a bare key)."""
    serial: int | None = None
    key: object
    try:
        if "BEGIN CERTIFICATE" in pem:
            cert = x509.load_pem_x509_certificate(pem.strip().encode())
            key = cert.public_key()
            serial = cert.serial_number
        elif "BEGIN PUBLIC KEY" in pem or "BEGIN RSA PUBLIC KEY" in pem:
            key = serialization.load_pem_public_key(pem.strip().encode())
        else:
            raise BadKey("not a PEM public key or certificate")
    except (ValueError, UnsupportedAlgorithm) as exc:
        if isinstance(exc, BadKey):
            raise
        raise BadKey("the public key or certificate does not parse") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise BadKey("not an RSA public key")
    if key.key_size < MIN_RSA_BITS:
        raise BadKey(f"RSA key of {key.key_size} bits; WeChat Pay uses {MIN_RSA_BITS}")
    return key, serial


def sign(private_key: rsa.RSAPrivateKey, signed: bytes) -> str:
    """base64(SHA256withRSA(PKCS#1 v1.5))."""
    raw = private_key.sign(signed, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(raw).decode()


def verify(public_key: rsa.RSAPublicKey, signed: bytes, signature: str) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
        public_key.verify(raw, signed, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def authorization(
    *,
    mchid: str,
    serial_no: str,
    private_key: rsa.RSAPrivateKey,
    method: str,
    url: str,
    body: bytes,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> str:
    """The ``Authorization`` header of one request; ``url`` is the path with its query string
    exactly as sent."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or nonce_str()
    signature = sign(private_key, message(method.upper(), url, ts, nonce, body))
    return (
        f'{AUTH_SCHEME} mchid="{mchid}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{ts}",serial_no="{serial_no}"'
    )


def verify_wechat_signature(
    headers: Mapping[str, str],
    body: bytes,
    *,
    public_key: rsa.RSAPublicKey,
    key_id: str,
    now: datetime | None = None,
) -> None:
    """Check WeChat's signature on an answer or a notification, or raise SignatureRefused.
    ``headers`` may be any case; ``now`` is injectable for the tests."""
    lower = {k.lower(): v for k, v in headers.items()}
    timestamp = lower.get("wechatpay-timestamp", "")
    nonce = lower.get("wechatpay-nonce", "")
    signature = lower.get("wechatpay-signature", "")
    serial = lower.get("wechatpay-serial", "")
    if not (timestamp and nonce and signature and serial):
        raise SignatureRefused("the Wechatpay-* signature headers are missing")
    signature_type = lower.get("wechatpay-signature-type")
    if signature_type is not None and signature_type != AUTH_SCHEME:
        raise SignatureRefused(f"unsupported signature type {signature_type!r}")
    if serial.upper() != key_id.upper():  # a certificate serial may be typed in lower case
        raise SignatureRefused(f"signed with key {serial!r}, expected {key_id!r}")
    if not timestamp.isdigit():
        raise SignatureRefused("Wechatpay-Timestamp is not a number")
    current = time.time() if now is None else now.timestamp()
    if abs(int(timestamp) - current) > MAX_SKEW_S:
        raise SignatureRefused("Wechatpay-Timestamp is more than 5 minutes off")
    if not verify(public_key, message(timestamp, nonce, body), signature):
        raise SignatureRefused("the signature does not verify")


def decrypt_resource(apiv3_key: str, nonce: str, associated_data: str, ciphertext: str) -> bytes:
    """A notification's plaintext; ValueError when the key, nonce, AAD or tag do not match."""
    try:
        data = base64.b64decode(ciphertext, validate=True)
        return AESGCM(apiv3_key.encode()).decrypt(
            nonce.encode(), data, associated_data.encode() if associated_data else None
        )
    except (InvalidTag, binascii.Error, ValueError, OverflowError):
        raise ValueError("the resource does not decrypt with the APIv3 key") from None
