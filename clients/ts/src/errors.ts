import type { ErrorData } from "./generated/types.js";

/** Error codes the client raises itself, without a reply from the sidecar. */
export const ClientErrorCode = {
  /** No reply within `timeoutMs` (HTTP-like status 408, retryable). */
  Timeout: "TIMEOUT",
  /** The sidecar cannot be reached, or the connection dropped before the reply (503, retryable). */
  Unavailable: "REMOTE_SERVICE_UNAVAILABLE",
  /** The sidecar refused the WebSocket handshake: a missing or wrong token (401). */
  Authentication: "AUTHENTICATION_ERROR",
  /** Bad options given to `connect()` (400). */
  ConfigInvalid: "CLIENT_CONFIG_INVALID",
  /** The sidecar answered something that is not a JSON-RPC 2.0 reply of the documented shape. */
  UnexpectedResponse: "UNEXPECTED_RESPONSE_FORMAT",
  /** A call on a client after `close()`. */
  Closed: "CLIENT_CLOSED",
  /** The call was cancelled through its `AbortSignal` (the sidecar stopped it; not retryable). */
  Cancelled: "CANCELLED",
  /** A reply was larger than the client's `maxPayloadBytes` (not retryable: raise the limit). */
  ReplyTooLarge: "REPLY_TOO_LARGE",
} as const;

/** What an {@link ArtregError} is built from. */
export interface ArtregErrorInit {
  code: string;
  message: string;
  retryable: boolean;
  internal: boolean;
  httpStatusCode?: number | undefined;
  context?: Readonly<Record<string, unknown>> | undefined;
  hint?: string | undefined;
  source?: ArtregError | undefined;
  rpcCode?: number | undefined;
}

/**
 * Every error the client throws: an error the sidecar returned (its `code`, `message`, flags,
 * snake_case `context` and `source` cause chain, as artreg's Python core raised it), or one of the
 * client's own ({@link ClientErrorCode}).
 */
/** Marks every ArtregError, so `instanceof` holds across the ES module and CommonJS builds. */
const BRAND = Symbol.for("@artreg/client.ArtregError");

export class ArtregError extends Error {
  /** True for an ArtregError of either build of this package (ES module or CommonJS). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  override readonly name = "ArtregError";
  /** The error kind, e.g. `RESOURCE_NOT_FOUND`, `INVALID_INPUT`, `OPERATION_NOT_SUPPORTED`. */
  readonly code: string;
  /** Whether the same call may succeed if tried again. */
  readonly retryable: boolean;
  /** Whether the error is internal (its details were withheld by the sidecar). */
  readonly internal: boolean;
  /** The HTTP status the error corresponds to, when it has one. */
  readonly httpStatusCode: number | undefined;
  /** The error's fields, keys in snake_case (e.g. `resource_id`, `field_name`). */
  readonly context: Readonly<Record<string, unknown>> | undefined;
  /** A suggestion on how to fix the cause, when the sidecar gave one. */
  readonly hint: string | undefined;
  /** The wrapped cause, also available as `cause`. */
  readonly source: ArtregError | undefined;
  /** The JSON-RPC error code of the reply (`-32000` for artreg errors), if the error came from one. */
  readonly rpcCode: number | undefined;

  constructor(init: ArtregErrorInit) {
    super(init.message, init.source === undefined ? undefined : { cause: init.source });
    Object.defineProperty(this, BRAND, { value: true });
    this.code = init.code;
    this.retryable = init.retryable;
    this.internal = init.internal;
    this.httpStatusCode = init.httpStatusCode;
    this.context = init.context;
    this.hint = init.hint;
    this.source = init.source;
    this.rpcCode = init.rpcCode;
  }

  /** The error from its wire shape (`ErrorData`), the `data` of a JSON-RPC error reply. */
  static fromData(data: ErrorData, rpcCode?: number): ArtregError {
    return new ArtregError({
      code: data.code,
      message: data.message,
      retryable: data.retryable,
      internal: data.internal,
      httpStatusCode: data.httpStatusCode ?? undefined,
      context: data.context ?? undefined,
      hint: data.hint ?? undefined,
      source: isErrorData(data.source) ? ArtregError.fromData(data.source) : undefined,
      rpcCode,
    });
  }

  /** The wire shape, absent optional keys omitted. */
  toJSON(): ErrorData {
    const data: ErrorData = {
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      internal: this.internal,
    };
    if (this.context !== undefined) data.context = { ...this.context };
    if (this.hint !== undefined) data.hint = this.hint;
    if (this.httpStatusCode !== undefined) data.httpStatusCode = this.httpStatusCode;
    if (this.source !== undefined) data.source = this.source.toJSON();
    return data;
  }

  override toString(): string {
    return `ArtregError [${this.code}]: ${this.message}`;
  }
}

/** Whether `value` has the wire shape of an artreg error. */
export function isErrorData(value: unknown): value is ErrorData {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v["code"] === "string" &&
    typeof v["message"] === "string" &&
    typeof v["retryable"] === "boolean" &&
    typeof v["internal"] === "boolean" &&
    (v["context"] === undefined || v["context"] === null || (typeof v["context"] === "object" && !Array.isArray(v["context"]))) &&
    (v["httpStatusCode"] === undefined || v["httpStatusCode"] === null || typeof v["httpStatusCode"] === "number") &&
    (v["hint"] === undefined || v["hint"] === null || typeof v["hint"] === "string")
  );
}

/** Whether `value` is an {@link ArtregError}, optionally of the given code. */
export function isArtregError(value: unknown, code?: string): value is ArtregError {
  return value instanceof ArtregError && (code === undefined || value.code === code);
}

/** JSON-RPC's standard error codes, for replies whose `data` is not in artreg's shape. */
const STANDARD_RPC_ERRORS: Readonly<Record<number, { code: string; httpStatusCode: number }>> = {
  [-32700]: { code: "INVALID_INPUT", httpStatusCode: 400 },
  [-32600]: { code: "INVALID_INPUT", httpStatusCode: 400 },
  [-32601]: { code: "OPERATION_NOT_SUPPORTED", httpStatusCode: 501 },
  [-32602]: { code: "INVALID_INPUT", httpStatusCode: 400 },
};

/** The error of a JSON-RPC error reply: its `data` when in artreg's shape, else built from its code. */
export function errorFromRpc(error: { code: unknown; message: unknown; data?: unknown }): ArtregError {
  const rpcCode = typeof error.code === "number" ? error.code : undefined;
  if (isErrorData(error.data)) return ArtregError.fromData(error.data, rpcCode);
  const known = rpcCode === undefined ? undefined : STANDARD_RPC_ERRORS[rpcCode];
  return new ArtregError({
    code: known?.code ?? "UNEXPECTED_RESPONSE_FORMAT",
    message: typeof error.message === "string" ? error.message : "JSON-RPC error without a message",
    retryable: false,
    internal: false,
    httpStatusCode: known?.httpStatusCode,
    rpcCode,
  });
}
