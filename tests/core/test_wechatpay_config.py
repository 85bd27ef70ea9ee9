"""``check_config`` of WeChat Pay: the fake's genuine config passes, and each broken field is
named in a 422 ``payment.invalid_config``; and the provider is registered as ``wechatpay``."""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from core.errors import Invalid
from core.payments import defaults
from core.payments.wechatpay_provider import WeChatPayProvider
from core.wechatpay import WeChatPayConfig, check_config
from storeplug.testing.fakes.wechatpay import FakeMerchant, FakeWeChatPay
from storeplug.testing.fakes.wechatpay_state import (
    new_rsa_key,
    platform_certificate,
    private_pem,
    public_pem,
)


@pytest.fixture
def merchant(fake_wechatpay: FakeWeChatPay) -> FakeMerchant:
    return fake_wechatpay.register_merchant()


def config_of(merchant: FakeMerchant, **changes: str) -> WeChatPayConfig:
    return msgspec.convert({**merchant.config(), **changes}, WeChatPayConfig)


def bad_fields(config: WeChatPayConfig) -> set[str]:
    with pytest.raises(Invalid) as caught:
        check_config(config)
    assert (caught.value.status, caught.value.code) == (422, "payment.invalid_config")
    assert all(error.message for error in caught.value.errors)
    return {error.field for error in caught.value.errors}


def test_the_fakes_config_is_accepted(merchant: FakeMerchant) -> None:
    check_config(config_of(merchant))
    WeChatPayProvider().check_config(config_of(merchant))


def test_a_pkcs1_private_key_is_accepted(merchant: FakeMerchant) -> None:
    pkcs1 = merchant.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    assert "BEGIN RSA PRIVATE KEY" in pkcs1
    check_config(config_of(merchant, merchant_private_key=pkcs1))


def test_a_platform_certificate_is_accepted_with_its_serial(merchant: FakeMerchant) -> None:
    pem, serial = platform_certificate(merchant.platform_key)
    check_config(config_of(merchant, platform_public_key=pem, platform_key_id=serial))
    assert bad_fields(config_of(merchant, platform_public_key=pem, platform_key_id="0" * 40)) == {
        "platform_key_id"
    }
    assert bad_fields(
        config_of(merchant, platform_public_key=pem, platform_key_id="PUB_KEY_ID_0112")
    ) == {"platform_key_id"}


def _encrypted_key() -> str:
    return (
        new_rsa_key()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
        .decode()
    )


def _ec_key() -> str:
    return (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


def _ec_public_key() -> str:
    return (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


BROKEN: dict[str, tuple[str, Callable[[FakeMerchant], str]]] = {
    "mchid with letters": ("mchid", lambda m: "12345abc"),
    "mchid too short": ("mchid", lambda m: "1234567"),
    "mchid too long": ("mchid", lambda m: "1234567890123"),
    "appid too short": ("appid", lambda m: "wx1234"),
    "appid without wx": ("appid", lambda m: "ab" + "0" * 16),
    "appid not hex": ("appid", lambda m: "wx" + "g" * 16),
    "serial not hex": ("merchant_serial_no", lambda m: "SERIAL-1"),
    "serial too long": ("merchant_serial_no", lambda m: "A" * 65),
    "serial empty": ("merchant_serial_no", lambda m: ""),
    "private key garbage": ("merchant_private_key", lambda m: "-----BEGIN PRIVATE KEY-----x"),
    "private key empty": ("merchant_private_key", lambda m: ""),
    "private key is the public one": ("merchant_private_key", lambda m: m.public_key_pem),
    "private key RSA-1024": ("merchant_private_key", lambda m: private_pem(new_rsa_key(1024))),
    "private key encrypted": ("merchant_private_key", lambda m: _encrypted_key()),
    "private key not RSA": ("merchant_private_key", lambda m: _ec_key()),
    "apiv3 key of 31": ("apiv3_key", lambda m: m.apiv3_key[:31]),
    "apiv3 key of 33": ("apiv3_key", lambda m: m.apiv3_key + "x"),
    "apiv3 key not ASCII": ("apiv3_key", lambda m: "密" * 32),
    "platform key garbage": ("platform_public_key", lambda m: "not a key"),
    "platform key is private": ("platform_public_key", lambda m: private_pem(m.platform_key)),
    "platform key RSA-1024": ("platform_public_key", lambda m: public_pem(new_rsa_key(1024))),
    "platform key not RSA": ("platform_public_key", lambda m: _ec_public_key()),
    "platform key id empty": ("platform_key_id", lambda m: ""),
    "platform key id neither": ("platform_key_id", lambda m: "my-key"),
}


@pytest.mark.parametrize("case", BROKEN.values(), ids=BROKEN.keys())
def test_each_broken_field_is_named(
    merchant: FakeMerchant, case: tuple[str, Callable[[FakeMerchant], str]]
) -> None:
    field, broken = case
    assert bad_fields(config_of(merchant, **{field: broken(merchant)})) == {field}


def test_every_broken_field_is_named_at_once(merchant: FakeMerchant) -> None:
    cases = ("mchid with letters", "apiv3 key of 31", "platform key garbage")
    broken = {field: make(merchant) for field, make in (BROKEN[case] for case in cases)}
    assert bad_fields(config_of(merchant, **broken)) == set(broken)


def test_a_missing_config_is_refused() -> None:
    with pytest.raises(Invalid) as caught:
        WeChatPayProvider().check_config({"mchid": "1900000109"})
    assert caught.value.code == "payment.invalid_config"


def test_the_provider_is_registered() -> None:
    providers = {p.name: p for p in defaults.register_payment_providers()}
    provider = providers["wechatpay"]
    assert isinstance(provider, WeChatPayProvider)
    assert (provider.title, provider.sandbox, provider.config_type) == (
        "微信支付",
        False,
        WeChatPayConfig,
    )
    assert provider.secret_fields == {"merchant_private_key", "apiv3_key"}
