export {
  createClient,
  ProblemError,
  type Answer,
  type ClientOptions,
  type FieldError,
  type MethodOf,
  type Problem,
  type RequestOptions,
  type Schemas,
  type StoreClient,
  type StorePath,
} from "./client";
export type { components, operations, paths } from "./schema";
