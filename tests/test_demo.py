"""The README's demo command, run as a real process: it serves health, OpenAPI and the vendor
API with the token it prints, and the merchant login it prints works."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from storeplug.testing import free_port


def test_demo_serves_what_it_prints(tmp_path: Path) -> None:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("STOREPLUG_")}
    env["STOREPLUG_DEMO_SECRET_FILE"] = str(tmp_path / "secret")
    process = subprocess.Popen(
        [sys.executable, "-m", "storeplug.cli", "demo", "--port", str(port)],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        printed = ""
        deadline = time.monotonic() + 60
        while "curl -H" not in printed and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            printed += line
        token = re.search(r"Vendor token\s+(\S+)", printed)
        password = re.search(r"username: owner\s+password: (\S+)", printed)
        buyer = re.search(r"Buyer token\s+(\S+)", printed)
        operator = re.search(r"username: operator\s+password: (\S+)", printed)
        assert token and password and buyer and operator, printed
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=10) as client:
            for _ in range(100):
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            assert client.get("/healthz").json() == {"status": "ok"}
            assert client.get("/schema/openapi.json").status_code == 200
            vendor = {"Authorization": f"Bearer {token.group(1)}"}
            tenants = client.get("/vendor/v1/tenants", headers=vendor)
            assert tenants.status_code == 200
            assert [t["slug"] for t in tenants.json()["items"]] == ["demo"]
            assert client.get("/vendor/v1/tenants").status_code == 401
            login = client.post(
                "/merchant/demo/v1/auth/login",
                json={"username": "owner", "password": password.group(1)},
            )
            assert login.status_code == 200, login.text
            # The printed operator signs in to the vendor console.
            form = client.get("/vendor/console/login")
            csrf = re.search(r'name="_csrf" value="([0-9a-f]+)"', form.text)
            assert csrf, form.text
            signed = client.post(
                "/vendor/console/login",
                data={"username": "operator", "password": operator.group(1), "_csrf": csrf[1]},
            )
            assert signed.status_code == 303, signed.text
            store = client.get("/store/demo/v1/store/")
            assert store.status_code == 200
            assert store.json()["branding"]["display_name"] == "Demo Coffee"
            menu = client.get("/store/demo/v1/products").json()["items"]
            assert len(menu) == 3
            auth = {"Authorization": f"Bearer {buyer.group(1)}"}
            sku_id = client.get(f"/store/demo/v1/products/{menu[0]['id']}").json()["skus"][0]["id"]
            cart = client.post(
                "/store/demo/v1/cart/lines", json={"sku_id": sku_id, "quantity": 1}, headers=auth
            )
            assert cart.status_code == 201, cart.text
            checkout_and_pay(client, auth, sku_id)
        assert (tmp_path / "storeplug.db").exists()
    finally:
        process.terminate()
        process.wait(timeout=20)


def checkout_and_pay(client: httpx.Client, auth: dict[str, str], sku_id: str) -> None:
    """What the demo prints under "Check out and pay": the seeded address, the seeded 满30减5
    coupon (two cups pass 30 yuan), and the sandbox provider."""
    address_id = client.get("/store/demo/v1/me/addresses", headers=auth).json()[0]["id"]
    coupons = client.get("/store/demo/v1/coupons", headers=auth).json()["items"]
    claimed = client.post(f"/store/demo/v1/coupons/{coupons[0]['id']}/claim", headers=auth)
    assert claimed.status_code == 201, claimed.text
    order = client.post(
        "/store/demo/v1/orders",
        json={
            "items": [{"sku_id": sku_id, "quantity": 2}],
            "fulfillment": "express",
            "fulfillment_data": {"address_id": address_id},
        },
        headers={**auth, "Idempotency-Key": "order-1"},
    )
    assert order.status_code == 201, order.text
    assert any(a["source"].startswith("coupon:") for a in order.json()["adjustments"])
    paid = client.post(
        f"/store/demo/v1/orders/{order.json()['id']}/pay",
        json={},
        headers={**auth, "Idempotency-Key": "pay-1"},
    )
    assert paid.status_code == 201, paid.text
    assert paid.json()["status"] == "succeeded"
    assert paid.json()["order_status"] == "paid"
