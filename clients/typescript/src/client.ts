/**
 * A typed storefront client over `wx.request`. Paths, path parameters, query strings, bodies
 * and answers are checked against `schema.d.ts`, which is generated from storeplug's OpenAPI
 * (`./run client` in the storeplug repository). Every failure is a `ProblemError` carrying
 * the problem+json body, whose `code` is stable: branch on it, never on `detail`.
 */
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
/** An RFC 9457 problem: `code` is stable (e.g. `cart.sold_out`); `errors` names bad fields. */
export type Problem = Schemas["Problem"];
export type FieldError = Schemas["FieldError"];

type Method = "get" | "post" | "put" | "patch" | "delete";
/** The storefront paths (the tenant is the client's). */
export type StorePath = Extract<keyof paths, `/store/{tenant_slug}/v1/${string}`>;
/** The methods `P` answers. */
export type MethodOf<P extends StorePath> = {
  [M in Method]: paths[P][M] extends undefined | never ? never : M;
}[Method];
type Operation<P extends StorePath, M extends MethodOf<P>> = NonNullable<paths[P][M]>;

type PathParams<O> = O extends { parameters: { path: infer T } } ? Omit<T, "tenant_slug"> : never;
type Query<O> = O extends { parameters: { query?: infer T } } ? T : never;
// A required request body is required even when every field in it is optional.
type BodyOption<O> = O extends { requestBody: { content: { "application/json": infer T } } }
  ? { body: T }
  : O extends { requestBody?: never }
    ? { body?: never }
    : O extends { requestBody?: { content: { "application/json": infer T } } }
      ? { body?: T }
      : { body?: never };
type Json<R> = R extends { content: { "application/json": infer T } } ? T : undefined;
/** What a successful call of `P` with `M` answers. */
export type Answer<P extends StorePath, M extends MethodOf<P>> =
  Operation<P, M> extends { responses: infer R }
    ? Json<R[Extract<keyof R, 200 | 201 | 202 | 204>]>
    : never;

type Optional<K extends string, T> = [T] extends [never]
  ? { [_ in K]?: never }
  : {} extends T
    ? { [_ in K]?: T }
    : { [_ in K]: T };

/** The options of a call: `path` when the path has parameters besides the tenant, `query`
 * and `body` when the operation takes them, and extra headers (e.g. `Idempotency-Key`). */
export type RequestOptions<P extends StorePath, M extends MethodOf<P>> = Optional<
  "path",
  keyof PathParams<Operation<P, M>> extends never ? never : PathParams<Operation<P, M>>
> &
  Optional<"query", Query<Operation<P, M>>> &
  BodyOption<Operation<P, M>> & { header?: Record<string, string> };

/** A refused call: the HTTP status and the problem+json body. */
export class ProblemError extends Error {
  readonly status: number;
  readonly problem: Problem;

  constructor(status: number, problem: Problem) {
    super(`${problem.code}: ${problem.detail ?? problem.title}`);
    this.name = "ProblemError";
    this.status = status;
    this.problem = problem;
  }

  get code(): string {
    return this.problem.code;
  }
}

export interface ClientOptions {
  /** The API's origin, e.g. `https://api.example.com`. */
  baseUrl: string;
  /** The store's slug: the `{tenant_slug}` of every path. */
  tenant: string;
  /** The member's access token, when signed in (from `POST /auth/wx-login`). */
  token?: () => string | undefined;
}

function isProblem(data: unknown): data is Problem {
  return typeof data === "object" && data !== null && typeof (data as Problem).code === "string";
}

function fillPath(template: string, values: Record<string, unknown>): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`missing path parameter ${name}`);
    return encodeURIComponent(String(value));
  });
}

function queryString(query: Record<string, unknown> | undefined): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null) continue;
    parts.push(`${encodeURIComponent(name)}=${encodeURIComponent(String(value))}`);
  }
  return parts.length ? `?${parts.join("&")}` : "";
}

export interface StoreClient {
  request<P extends StorePath, M extends MethodOf<P>>(
    method: M,
    path: P,
    ...options: {} extends RequestOptions<P, M>
      ? [RequestOptions<P, M>?]
      : [RequestOptions<P, M>]
  ): Promise<Answer<P, M>>;
}

export function createClient(options: ClientOptions): StoreClient {
  return {
    request(method, path, ...rest) {
      const call = (rest[0] ?? {}) as {
        path?: Record<string, unknown>;
        query?: Record<string, unknown>;
        body?: unknown;
        header?: Record<string, string>;
      };
      const url =
        options.baseUrl +
        fillPath(path, { ...call.path, tenant_slug: options.tenant }) +
        queryString(call.query);
      const header: Record<string, string> = { ...call.header };
      const token = options.token?.();
      if (token) header["Authorization"] = `Bearer ${token}`;
      return new Promise((resolve, reject) => {
        wx.request({
          url,
          method: method.toUpperCase() as "GET" | "POST" | "PUT" | "DELETE",
          header,
          // wx.request sends an object as JSON; nothing at all for a call without a body.
          ...(call.body === undefined ? {} : { data: call.body as WechatMiniprogram.IAnyObject }),
          dataType: "json",
          success(response) {
            if (response.statusCode >= 200 && response.statusCode < 300) {
              resolve((response.statusCode === 204 ? undefined : response.data) as never);
            } else if (isProblem(response.data)) {
              reject(new ProblemError(response.statusCode, response.data));
            } else {
              const title = `HTTP ${response.statusCode}`;
              reject(
                new ProblemError(response.statusCode, {
                  type: "about:blank",
                  title,
                  status: response.statusCode,
                  code: "http.unexpected",
                }),
              );
            }
          },
          fail(error) {
            reject(new Error(`wx.request failed: ${error.errMsg}`));
          },
        });
      });
    },
  };
}
