"""The fake WeChat Pay's merchants, trades and refunds, and WeChat's side of the crypto: the
signatures it checks and makes, and the notifications it encrypts. Written straight on the
``cryptography`` library, not on ``core.wechatpay_crypto``, so a mistake in the client is not
mirrored by the fake (see ``storeplug.testing.fakes.wechatpay`` for the server)."""

from __future__ import annotations

import base64
import secrets
import string
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

CHINA = timezone(timedelta(hours=8))
SCHEME = "WECHATPAY2-SHA256-RSA2048"
TRADE_DESCRIPTIONS = {
    "SUCCESS": "支付成功",
    "REFUND": "转入退款",
    "NOTPAY": "订单未支付",
    "CLOSED": "订单已关闭",
    "REVOKED": "已撤销",
    "USERPAYING": "用户支付中",
    "PAYERROR": "支付失败",
}
EVENT_SUMMARIES = {
    "TRANSACTION.SUCCESS": "支付成功",
    "REFUND.SUCCESS": "退款成功",
    "REFUND.ABNORMAL": "退款异常",
    "REFUND.CLOSED": "退款关闭",
}
_ALNUM = string.ascii_letters + string.digits


def random_text(length: int, alphabet: str = _ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def random_digits(length: int) -> str:
    return random_text(length, string.digits)


def china_time(moment: float | None = None) -> str:
    """RFC 3339 in China time, the way WeChat writes every time."""
    stamp = time.time() if moment is None else moment
    return datetime.fromtimestamp(stamp, CHINA).isoformat(timespec="seconds")


def new_rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_pem(key: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> str:
    public = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def platform_certificate(key: rsa.RSAPrivateKey) -> tuple[str, str]:
    """A platform certificate (平台证书, the older way) for ``key``: (its PEM, its serial as
    WeChat shows it: 40 upper-case hex digits)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA")])
    serial = secrets.randbits(159) | (1 << 150)
    now = datetime.now(CHINA)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365 * 5))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), f"{serial:040X}"


def signed_text(*parts: str | bytes) -> bytes:
    return b"".join((p if isinstance(p, bytes) else p.encode()) + b"\n" for p in parts)


def rsa_sign(key: rsa.RSAPrivateKey, *parts: str | bytes) -> str:
    raw = key.sign(signed_text(*parts), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(raw).decode()


def rsa_verify(key: rsa.RSAPublicKey, signature: str, *parts: str | bytes) -> bool:
    try:
        key.verify(
            base64.b64decode(signature, validate=True),
            signed_text(*parts),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def wechat_headers(
    key: rsa.RSAPrivateKey,
    serial: str,
    body: bytes,
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The four headers WeChat signs an answer or a notification with."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or random_text(32)
    return {
        "Wechatpay-Timestamp": stamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": rsa_sign(key, stamp, nonce, body),
        "Wechatpay-Serial": serial,
    }


def encrypt_resource(apiv3_key: str, plaintext: bytes, original_type: str) -> dict[str, str]:
    """A notification's ``resource``: AEAD_AES_256_GCM, AAD = the original type's name."""
    nonce = random_text(12)
    ciphertext = AESGCM(apiv3_key.encode()).encrypt(
        nonce.encode(), plaintext, original_type.encode()
    )
    return {
        "original_type": original_type,
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "associated_data": original_type,
        "nonce": nonce,
    }


def json_bytes(payload: Any) -> bytes:
    return msgspec.json.encode(payload)


@dataclass
class FakeTrade:
    """A JSAPI trade (交易单) as WeChat holds it."""

    mchid: str
    appid: str
    out_trade_no: str
    description: str
    total: int
    openid: str
    notify_url: str
    time_expire: datetime
    prepay_id: str
    prepay_issued: float
    state: str = "NOTPAY"
    transaction_id: str = ""
    success_time: str = ""

    def answer(self) -> dict[str, Any]:
        """The query's answer, which is also a TRANSACTION.SUCCESS resource."""
        paid = bool(self.transaction_id)
        body: dict[str, Any] = {
            "appid": self.appid,
            "mchid": self.mchid,
            "out_trade_no": self.out_trade_no,
            "trade_state": self.state,
            "trade_state_desc": TRADE_DESCRIPTIONS.get(self.state, ""),
        }
        if paid:
            body |= {
                "transaction_id": self.transaction_id,
                "trade_type": "JSAPI",
                "bank_type": "OTHERS",
                "attach": "",
                "success_time": self.success_time,
                "payer": {"openid": self.openid},
                "amount": {
                    "total": self.total,
                    "payer_total": self.total,
                    "currency": "CNY",
                    "payer_currency": "CNY",
                },
            }
        else:
            body["amount"] = {"total": self.total, "payer_currency": "CNY"}
        return body


@dataclass
class FakeRefund:
    """A refund (退款单) as WeChat holds it."""

    mchid: str
    out_trade_no: str
    transaction_id: str
    out_refund_no: str
    refund_id: str
    refund: int
    total: int
    reason: str
    notify_url: str
    create_time: str
    status: str = "PROCESSING"
    success_time: str = ""

    def answer(self) -> dict[str, Any]:
        """The refund API's and the refund query's answer."""
        body: dict[str, Any] = {
            "refund_id": self.refund_id,
            "out_refund_no": self.out_refund_no,
            "transaction_id": self.transaction_id,
            "out_trade_no": self.out_trade_no,
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "create_time": self.create_time,
            "status": self.status,
            "funds_account": "AVAILABLE",
            "amount": self._amount() | {"currency": "CNY", "payer_refund": self.refund},
        }
        if self.success_time:
            body["success_time"] = self.success_time
        return body

    def resource(self) -> dict[str, Any]:
        """A REFUND.* notification's resource."""
        body: dict[str, Any] = {
            "mchid": self.mchid,
            "out_trade_no": self.out_trade_no,
            "transaction_id": self.transaction_id,
            "out_refund_no": self.out_refund_no,
            "refund_id": self.refund_id,
            "refund_status": self.status,
            "user_received_account": "支付用户零钱",
            "amount": self._amount() | {"payer_refund": self.refund},
        }
        if self.success_time:
            body["success_time"] = self.success_time
        return body

    def _amount(self) -> dict[str, Any]:
        return {"total": self.total, "refund": self.refund, "payer_total": self.total}


@dataclass
class FakeMerchant:
    """A merchant registered with the fake: its keys (made in this test run), its
    mini-program and its trades and refunds."""

    mchid: str
    appid: str
    serial_no: str
    private_key: rsa.RSAPrivateKey  # the merchant's API key (apiclient_key.pem)
    platform_key: rsa.RSAPrivateKey  # WeChat Pay's key for this merchant
    platform_key_id: str
    apiv3_key: str
    trades: dict[str, FakeTrade] = field(default_factory=dict)
    refunds: dict[str, FakeRefund] = field(default_factory=dict)

    @classmethod
    def generate(cls) -> FakeMerchant:
        return cls(
            mchid="1" + random_digits(9),
            appid="wx" + secrets.token_hex(8),
            serial_no=secrets.token_hex(20).upper(),
            private_key=new_rsa_key(),
            platform_key=new_rsa_key(),
            platform_key_id="PUB_KEY_ID_01" + random_digits(30),
            apiv3_key=random_text(32),
        )

    @property
    def public_key_pem(self) -> str:
        """The merchant's public key: what verifies our requests and ``paySign``."""
        return public_pem(self.private_key)

    @property
    def private_key_pem(self) -> str:
        return private_pem(self.private_key)

    @property
    def platform_public_key_pem(self) -> str:
        return public_pem(self.platform_key)

    def config(self) -> dict[str, str]:
        """What the merchant PUTs to ``/payments/accounts/wechatpay``."""
        return {
            "mchid": self.mchid,
            "appid": self.appid,
            "merchant_serial_no": self.serial_no,
            "merchant_private_key": self.private_key_pem,
            "apiv3_key": self.apiv3_key,
            "platform_public_key": self.platform_public_key_pem,
            "platform_key_id": self.platform_key_id,
        }

    def refunded(self, out_trade_no: str) -> int:
        """Fen given back or on the way (a CLOSED refund gives its amount back)."""
        return sum(
            r.refund
            for r in self.refunds.values()
            if r.out_trade_no == out_trade_no and r.status != "CLOSED"
        )
