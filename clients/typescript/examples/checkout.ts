/**
 * Checkout in a mini-program page: place an order (with an Idempotency-Key, so a retried tap
 * never orders twice), ask for the payment parameters, and open WeChat Pay. Refusals are
 * problem+json; their `code` decides what the buyer sees.
 */
import { createClient, ProblemError, type Schemas } from "../src/index";

const api = createClient({
  baseUrl: "https://api.example.com",
  tenant: "tea-house",
  token: () => wx.getStorageSync<string>("access_token") || undefined,
});

function newKey(): string {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

export async function checkout(skuId: string, addressId: string): Promise<void> {
  const order: Schemas["PlaceOrderIn"] = {
    items: [{ sku_id: skuId, quantity: 1 }],
    fulfillment: "express",
    fulfillment_data: { address_id: addressId },
  };
  try {
    const cart = await api.request("post", "/store/{tenant_slug}/v1/cart/preview", {
      body: order,
    });
    wx.showToast({ title: `合计 ¥${(cart.payable / 100).toFixed(2)}`, icon: "none" });
    // The same key for a retry of the same tap: a replay answers the first order again.
    const placed = await api.request("post", "/store/{tenant_slug}/v1/orders", {
      body: order,
      header: { "Idempotency-Key": newKey() },
    });
    const payment = await api.request("post", "/store/{tenant_slug}/v1/orders/{order_id}/pay", {
      path: { order_id: placed.id },
      body: {},
      header: { "Idempotency-Key": newKey() },
    });
    if (payment.status === "succeeded") return; // nothing to pay, or settled at once
    const { params } = payment;
    wx.requestPayment({
      timeStamp: params["timeStamp"] ?? "",
      nonceStr: params["nonceStr"] ?? "",
      package: params["package"] ?? "",
      signType: "RSA",
      paySign: params["paySign"] ?? "",
    });
  } catch (error) {
    if (!(error instanceof ProblemError)) throw error;
    if (error.code === "auth.required" || error.code === "auth.token_expired") {
      wx.navigateTo({ url: "/pages/login/login" });
    } else if (error.code === "request.invalid") {
      const fields = (error.problem.errors ?? []).map((e) => e.field).join(", ");
      wx.showToast({ title: `请检查：${fields}`, icon: "none" });
    } else {
      wx.showToast({ title: error.problem.detail ?? error.problem.title, icon: "none" });
    }
  }
}

export async function myOrders(): Promise<Schemas["OrderOut"][]> {
  const page = await api.request("get", "/store/{tenant_slug}/v1/orders", {
    query: { limit: 20 },
  });
  return page.items;
}
