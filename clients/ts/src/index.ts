/**
 * `@artreg/client`: the TypeScript client of the artreg JSON-RPC sidecar.
 *
 * ```ts
 * import { connect } from "@artreg/client";
 * const client = connect({ url: "ws://127.0.0.1:7450" });
 * const registry = client.artifactRegistry("artifacts");
 * const repo = await registry.createRepository("my-app");
 * await client.images.pushLayout("/abs/path/to/layout", "127.0.0.1:5000/artifacts/my-app:v1", {
 *   onProgress: (p) => console.log(p.status, p.digest, p.bytesDone, "/", p.bytesTotal),
 * });
 * await client.close();
 * ```
 */
export { ArtifactRegistry, MAX_INLINE_BYTES, type Manifest } from "./artifact-registry.js";
export {
  Images,
  type CopyOptions,
  type PullLayoutOptions,
  type PushLayoutOptions,
  type TransferOptions,
} from "./images.js";
export {
  ArtregClient,
  connect,
  DEFAULT_MAX_PAYLOAD_BYTES,
  DEFAULT_TIMEOUT_MS,
  type CallOptions,
  type ConnectOptions,
  type OpenRpcDocument,
} from "./client.js";
export { ArtregError, ClientErrorCode, isArtregError, isErrorData, type ArtregErrorInit } from "./errors.js";
export {
  API_VERSION,
  METHOD_PARAMS,
  type ArtregMethodName,
  type ArtregMethods,
  type ParamsOf,
  type ResultOf,
} from "./generated/methods.js";
export type * from "./generated/types.js";
