/**
 * Compile-time checks of the client's types (`tsc --noEmit` runs them): each
 * `@ts-expect-error` line must be refused, or the directive itself fails the build.
 */
import { createClient, type Answer, type Schemas } from "../src/index";

const api = createClient({ baseUrl: "https://api.example.com", tenant: "shop" });

export async function checks(): Promise<void> {
  // Answers are typed from the OpenAPI, idempotent routes included.
  const order: Schemas["OrderOut"] = await api.request("post", "/store/{tenant_slug}/v1/orders", {
    body: { items: [{ sku_id: "s", quantity: 1 }], fulfillment: "express" },
    header: { "Idempotency-Key": "k" },
  });
  const status: "pending" | "succeeded" = (
    await api.request("post", "/store/{tenant_slug}/v1/orders/{order_id}/pay", {
      path: { order_id: order.id },
      body: {},
    })
  ).status;
  const me: Answer<"/store/{tenant_slug}/v1/me", "get"> = await api.request(
    "get",
    "/store/{tenant_slug}/v1/me",
  );
  void [status, me];

  // @ts-expect-error: not a storefront path
  await api.request("get", "/merchant/{tenant_slug}/v1/orders");
  // @ts-expect-error: the path answers GET and POST only
  await api.request("put", "/store/{tenant_slug}/v1/orders");
  // @ts-expect-error: order_id is missing
  await api.request("get", "/store/{tenant_slug}/v1/orders/{order_id}", {});
  // @ts-expect-error: a body is required
  await api.request("post", "/store/{tenant_slug}/v1/orders");
  await api.request("post", "/store/{tenant_slug}/v1/orders", {
    // @ts-expect-error: quantity is a number
    body: { items: [{ sku_id: "s", quantity: "1" }], fulfillment: "express" },
  });
  // @ts-expect-error: the tenant is the client's, not a parameter
  await api.request("get", "/store/{tenant_slug}/v1/me", { path: { tenant_slug: "other" } });
}
