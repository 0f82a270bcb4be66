import { ArtifactRegistry } from "./artifact-registry.js";
import { Images } from "./images.js";
import { Connection, displayUrl, timeoutError } from "./connection.js";
import { ArtregError, ClientErrorCode } from "./errors.js";
import type { ArtregMethodName, ParamsOf, ResultOf } from "./generated/methods.js";
import type { TransferProgress } from "./generated/types.js";

/** A call's default time limit, and the connect timeout. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/** The largest reply the client accepts (a manifest is at most 4 MiB; base64 makes that ~5.4 MiB). */
export const DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** The sidecar's WebSocket URL, e.g. `ws://127.0.0.1:7450` (what `artreg serve` prints). */
  url: string;
  /** Sent as `Authorization: Bearer <token>` in the handshake; the sidecar's `ARTREG_RPC_TOKEN`. */
  token?: string | undefined;
  /** Time limit of the connection handshake and of each call, in ms (default 30 000). */
  timeoutMs?: number | undefined;
  /** The largest reply accepted, in bytes (default 64 MiB). */
  maxPayloadBytes?: number | undefined;
}

/** The OpenRPC document the sidecar serves from `rpc.discover` (the shape of schemas/openrpc.json). */
export interface OpenRpcDocument {
  openrpc: string;
  info: { title: string; version: string; description?: string };
  methods: Array<{ name: string; summary?: string; params: unknown[]; result: unknown; [key: string]: unknown }>;
  components?: Record<string, unknown>;
  [key: string]: unknown;
}

/** Per-call options of {@link ArtregClient.call}. */
export interface CallOptions {
  /**
   * This call's time limit in ms, instead of the client's `timeoutMs`. For a transfer (a call that
   * reports progress) it bounds the silence between progress updates, not the whole transfer.
   */
  timeoutMs?: number | undefined;
  /**
   * Cancels the call: the client sends `$/cancelRequest`, the sidecar stops the transfer and
   * cleans up, and the call rejects with CANCELLED (`ArtregError`, not retryable).
   */
  signal?: AbortSignal | undefined;
  /** Called with each progress notification of the call (image transfers), in order. */
  onProgress?: ((progress: TransferProgress) => void) | undefined;
}

function configError(message: string, field: string): ArtregError {
  return new ArtregError({
    code: ClientErrorCode.ConfigInvalid,
    message,
    retryable: false,
    internal: false,
    httpStatusCode: 400,
    context: { field_name: field },
  });
}

function positive(value: number | undefined, fallback: number, field: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw configError(`${field} must be a positive number of ${field === "timeoutMs" ? "milliseconds" : "bytes"}`, field);
  }
  return value;
}

function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => ArtregError): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * A client of the artreg JSON-RPC sidecar over one WebSocket. Calls run concurrently on it. When the
 * connection drops, the calls in flight are rejected (REMOTE_SERVICE_UNAVAILABLE, retryable) and the
 * next call opens a new connection.
 */
export class ArtregClient {
  readonly #url: URL;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;
  readonly #maxPayload: number;
  #connection: Connection | undefined;
  #connecting: Promise<Connection> | undefined;
  #closed = false;

  /** Validates the options; no connection is made until {@link open} or the first call. */
  constructor(options: ConnectOptions) {
    if (typeof options !== "object" || options === null) throw configError("connect() needs an options object", "options");
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw configError("url must be a WebSocket URL such as ws://127.0.0.1:7450", "url");
    }
    if (url.protocol !== "ws:" && url.protocol !== "wss:") {
      throw configError(`url must use ws: or wss:, not ${url.protocol}`, "url");
    }
    if (options.token !== undefined && (typeof options.token !== "string" || options.token === "" || /[\r\n]/.test(options.token))) {
      throw configError("token must be a non-empty string on one line", "token");
    }
    this.#url = url;
    this.#token = options.token;
    this.#timeoutMs = positive(options.timeoutMs, DEFAULT_TIMEOUT_MS, "timeoutMs");
    this.#maxPayload = positive(options.maxPayloadBytes, DEFAULT_MAX_PAYLOAD_BYTES, "maxPayloadBytes");
  }

  /** The sidecar's URL, without user info or query. */
  get url(): string {
    return displayUrl(this.#url);
  }

  /** Whether a connection is open now (a call reconnects when it is not). */
  get connected(): boolean {
    return this.#connection?.isOpen ?? false;
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The methods of the binding named `bindingName` on the sidecar (e.g. `artifacts` under `artreg serve`). */
  artifactRegistry(bindingName: string): ArtifactRegistry {
    if (typeof bindingName !== "string" || bindingName === "") {
      throw configError("bindingName must be a non-empty string", "bindingName");
    }
    return new ArtifactRegistry(this, bindingName);
  }

  /** Image operations on registries named by host (`host[:port]/repository[:tag]`), run by the sidecar. */
  get images(): Images {
    return new Images(this);
  }

  /** Calls a sidecar method with its by-name params; rejects with {@link ArtregError}. */
  async call<M extends ArtregMethodName>(method: M, params: ParamsOf<M>, options?: CallOptions): Promise<ResultOf<M>> {
    return (await this.#request(method, params, options)) as ResultOf<M>;
  }

  /** The sidecar's OpenRPC document (`rpc.discover`): its methods, params and result schemas. */
  async discover(options?: CallOptions): Promise<OpenRpcDocument> {
    return (await this.#request("rpc.discover", {}, options)) as OpenRpcDocument;
  }

  async #request(method: string, params: object, options: CallOptions | undefined): Promise<unknown> {
    const timeoutMs = positive(options?.timeoutMs, this.#timeoutMs, "timeoutMs");
    const started = Date.now();
    const connection = await this.#connect(timeoutMs);
    const remaining = Math.max(1, timeoutMs - (Date.now() - started));
    return connection.request(method, params, timeoutMs, remaining, { signal: options?.signal, onProgress: options?.onProgress });
  }

  /** Opens the connection now if none is open: rejects when the sidecar is unreachable or refuses the token. */
  async open(): Promise<void> {
    await this.#connect(this.#timeoutMs);
  }

  /** Closes the connection; calls in flight and any later call reject with CLIENT_CLOSED. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const connection = this.#connection;
    const connecting = this.#connecting;
    this.#connection = undefined;
    await connection?.close(this.#closedError());
    // A handshake still under way: wait for it, so no socket outlives close().
    await connecting?.then(
      (late) => late.close(this.#closedError()),
      () => undefined,
    );
  }

  #closedError(): ArtregError {
    return new ArtregError({
      code: ClientErrorCode.Closed,
      message: "the artreg client is closed",
      retryable: false,
      internal: false,
    });
  }

  async #connect(timeoutMs: number): Promise<Connection> {
    if (this.#closed) throw this.#closedError();
    if (this.#connection?.isOpen === true) return this.#connection;
    if (this.#connecting === undefined) {
      const connecting = Connection.open(this.#url, this.#token, this.#timeoutMs, this.#maxPayload);
      this.#connecting = connecting;
      const clear = (): void => {
        if (this.#connecting === connecting) this.#connecting = undefined;
      };
      connecting.then(async (connection) => {
        clear();
        if (this.#closed) {
          await connection.close(this.#closedError());
        } else {
          this.#connection = connection;
        }
      }, clear);
    }
    const connection = await withTimeout(this.#connecting, timeoutMs, () =>
      timeoutError(`connecting to the artreg sidecar at ${this.url}`, timeoutMs),
    );
    if (this.#closed) throw this.#closedError();
    return connection;
  }
}

/**
 * A client of the artreg sidecar at `options.url`. It starts connecting at once; calls wait for the
 * connection, and a call made while the sidecar is unreachable tries again. `await client.open()`
 * to fail early on an unreachable sidecar or a refused token. Throws CLIENT_CONFIG_INVALID on bad
 * options. (`await connect(...)` works too: it gives the same client.)
 */
export function connect(options: ConnectOptions): ArtregClient {
  const client = new ArtregClient(options);
  // Connect eagerly; a failure here is not lost: the first call connects again and reports it.
  client.open().catch(() => undefined);
  return client;
}
