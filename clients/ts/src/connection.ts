import WebSocket from "ws";

import { ArtregError, ClientErrorCode, errorFromRpc } from "./errors.js";
import type { TransferProgress } from "./generated/types.js";

/** Server → client: progress of a call (params: TransferProgress, `id` = the request's id). */
export const PROGRESS_NOTIFICATION = "$/progress";
/** Client → server: stop a call (params: `{ id }`). */
export const CANCEL_NOTIFICATION = "$/cancelRequest";

/** After a cancel is sent, how long the sidecar has to confirm that the call stopped. */
const CANCEL_GRACE_MS = 10_000;

/** How long `close()` waits for the sidecar's closing handshake before dropping the socket. */
const CLOSE_GRACE_MS = 1_000;

/** After a call times out, how long the sidecar has to answer a ping before the socket is dropped. */
const PROBE_TIMEOUT_MS = 5_000;

interface Pending {
  readonly method: string;
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: ArtregError) => void;
  timer: NodeJS.Timeout;
  /** Restarts the time limit (a progress notification shows the call is alive). */
  readonly touch: () => void;
  readonly onProgress: ((progress: TransferProgress) => void) | undefined;
  /** Set once the call was cancelled: the error its promise rejects with. */
  cancelled?: ArtregError;
}

/** Per-request options of {@link Connection.request}. */
export interface RequestOptions {
  /** Called with each `$/progress` notification of the call, in order. */
  onProgress?: ((progress: TransferProgress) => void) | undefined;
  /** Cancels the call: the client sends `$/cancelRequest` and rejects with CANCELLED once the sidecar has stopped it. */
  signal?: AbortSignal | undefined;
}

export function cancelledError(method: string, reason: unknown): ArtregError {
  return new ArtregError({
    code: ClientErrorCode.Cancelled,
    message: `the artreg call ${method} was cancelled` + (reason instanceof Error && reason.message !== "" ? `: ${reason.message}` : ""),
    retryable: false,
    internal: false,
    httpStatusCode: 499,
    context: { method },
  });
}

/** The URL as it may be shown in messages: no user info, no query (either could hold a secret). */
export function displayUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname === "/" ? "" : url.pathname}`;
}

export function timeoutError(what: string, timeoutMs: number): ArtregError {
  return new ArtregError({
    code: ClientErrorCode.Timeout,
    message: `${what} timed out after ${timeoutMs} ms`,
    retryable: true,
    internal: false,
    httpStatusCode: 408,
    context: { operation_context: what, timeout_ms: timeoutMs },
  });
}

function unavailable(message: string, context: Record<string, unknown>): ArtregError {
  return new ArtregError({
    code: ClientErrorCode.Unavailable,
    message,
    retryable: true,
    internal: false,
    httpStatusCode: 503,
    context,
  });
}

function text(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString("utf8");
  return data.toString("utf8");
}

/**
 * One WebSocket to the sidecar carrying JSON-RPC 2.0: many requests in flight, replies matched by
 * `id`. When the socket closes, every call still waiting is rejected; the connection is then spent.
 */
export class Connection {
  readonly #ws: WebSocket;
  readonly #url: string;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #open = true;
  #probing = false;
  #maxPayload = 0;
  #tooLarge = false;

  private constructor(ws: WebSocket, url: string) {
    this.#ws = ws;
    this.#url = url;
    ws.on("message", (data) => this.#onMessage(data));
    ws.on("close", (code, reason) => this.#onClose(code, reason.toString("utf8")));
    // A socket error is always followed by "close", which rejects what is pending; a reply over
    // maxPayload is remembered so that "close" can say so.
    ws.on("error", (err: Error & { code?: string }) => {
      if (err.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") this.#tooLarge = true;
    });
  }

  /** Opens the WebSocket; rejects with AUTHENTICATION_ERROR when the handshake is refused with 401/403. */
  static open(url: URL, token: string | undefined, timeoutMs: number, maxPayload: number): Promise<Connection> {
    const shown = displayUrl(url);
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = {};
      if (token !== undefined) headers["Authorization"] = `Bearer ${token}`;
      const ws = new WebSocket(url, { headers, maxPayload, perMessageDeflate: false, followRedirects: false });
      let settled = false;
      const timer = setTimeout(() => fail(timeoutError(`connecting to the artreg sidecar at ${shown}`, timeoutMs)), timeoutMs);
      const fail = (error: ArtregError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        ws.terminate();
        reject(error);
      };
      ws.on("error", (err: Error) =>
        fail(unavailable(`cannot connect to the artreg sidecar at ${shown}: ${err.message}`, { url: shown })),
      );
      ws.once("unexpected-response", (req, res) => {
        const status = res.statusCode ?? 0;
        res.resume();
        req.destroy();
        if (status === 401 || status === 403) {
          fail(
            new ArtregError({
              code: ClientErrorCode.Authentication,
              message:
                `the artreg sidecar at ${shown} refused the connection with HTTP ${status}: ` +
                (token === undefined ? "it requires a token" : "the token was not accepted"),
              retryable: false,
              internal: false,
              httpStatusCode: 401,
              context: { url: shown, http_status: status },
            }),
          );
        } else {
          fail(unavailable(`the artreg sidecar at ${shown} answered the WebSocket handshake with HTTP ${status}`, { url: shown, http_status: status }));
        }
      });
      ws.once("open", () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        ws.removeAllListeners("error");
        ws.removeAllListeners("unexpected-response");
        const connection = new Connection(ws, shown);
        connection.#maxPayload = maxPayload;
        resolve(connection);
      });
    });
  }

  /** Whether calls can still be sent on this connection. */
  get isOpen(): boolean {
    return this.#open && this.#ws.readyState === WebSocket.OPEN;
  }

  /** How many calls are waiting for their reply. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /**
   * Sends one request and waits at most `waitMs` for its reply; a timeout reports `timeoutMs`, the
   * call's whole limit (which also covered connecting).
   */
  request(method: string, params: object, timeoutMs: number, waitMs: number = timeoutMs, options: RequestOptions = {}): Promise<unknown> {
    if (!this.isOpen) {
      return Promise.reject(unavailable(`the connection to the artreg sidecar at ${this.#url} is closed`, { url: this.#url, method }));
    }
    const signal = options.signal;
    if (signal?.aborted === true) return Promise.reject(cancelledError(method, signal.reason));
    const id = this.#nextId++;
    const message = JSON.stringify({ jsonrpc: "2.0", id, method, params });
    return new Promise((resolve, reject) => {
      const expire = (): void => {
        if (!this.#pending.delete(id)) return;
        signal?.removeEventListener("abort", abort);
        reject(timeoutError(`the artreg call ${method}`, timeoutMs));
        this.#probe(Math.min(timeoutMs, PROBE_TIMEOUT_MS));
      };
      const abort = (): void => this.#cancel(id, signal?.reason);
      const entry: Pending = {
        method,
        resolve: (result) => {
          signal?.removeEventListener("abort", abort);
          resolve(result);
        },
        reject: (error) => {
          signal?.removeEventListener("abort", abort);
          reject(error);
        },
        timer: setTimeout(expire, waitMs),
        // Progress resets the limit: for a transfer, `timeoutMs` bounds silence, not the whole copy.
        touch: () => {
          clearTimeout(entry.timer);
          entry.timer = setTimeout(expire, timeoutMs);
        },
        onProgress: options.onProgress,
      };
      this.#pending.set(id, entry);
      signal?.addEventListener("abort", abort, { once: true });
      this.#ws.send(message, (err) => {
        if (err !== undefined && err !== null) {
          this.#settle(id)?.reject(
            unavailable(`could not send ${method} to the artreg sidecar at ${this.#url}: ${err.message}`, { url: this.#url, method }),
          );
        }
      });
    });
  }

  /**
   * Asks the sidecar to stop call `id` (`$/cancelRequest`). The call rejects with CANCELLED when
   * the sidecar confirms it stopped (its uploads ended, temporary files removed), or after a grace
   * period if it does not answer.
   */
  #cancel(id: number, reason: unknown): void {
    const pending = this.#pending.get(id);
    if (pending === undefined || pending.cancelled !== undefined) return;
    pending.cancelled = cancelledError(pending.method, reason);
    clearTimeout(pending.timer);
    pending.timer = setTimeout(() => this.#settle(id)?.reject(pending.cancelled as ArtregError), CANCEL_GRACE_MS);
    this.#ws.send(JSON.stringify({ jsonrpc: "2.0", method: CANCEL_NOTIFICATION, params: { id } }), () => undefined);
  }

  /** Closes the socket; calls still waiting are rejected with `reason`. */
  close(reason: ArtregError): Promise<void> {
    this.#open = false;
    this.#rejectAll(() => reason);
    if (this.#ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#ws.terminate(), CLOSE_GRACE_MS);
      this.#ws.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      this.#ws.close(1000, "client closed");
    });
  }

  /**
   * Pings the sidecar after a call timed out: a slow call leaves the connection in use, but a
   * sidecar that does not even answer a ping is gone (a half-open socket), so the socket is dropped
   * and the next call reconnects instead of timing out too.
   */
  #probe(timeoutMs: number): void {
    if (this.#probing || !this.isOpen) return;
    this.#probing = true;
    const timer = setTimeout(() => this.#ws.terminate(), timeoutMs);
    this.#ws.once("pong", () => {
      clearTimeout(timer);
      this.#probing = false;
    });
    this.#ws.ping();
  }

  #settle(id: number): Pending | undefined {
    const pending = this.#pending.get(id);
    if (pending === undefined) return undefined;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    return pending;
  }

  #rejectAll(reason: (method: string) => ArtregError): void {
    const pending = [...this.#pending.keys()];
    for (const id of pending) {
      const entry = this.#settle(id);
      if (entry !== undefined) entry.reject(entry.cancelled ?? reason(entry.method));
    }
  }

  #onMessage(data: WebSocket.RawData): void {
    let reply: unknown;
    try {
      reply = JSON.parse(text(data));
    } catch {
      return; // Not JSON: no call can be matched to it, and the sidecar never sends this.
    }
    for (const item of Array.isArray(reply) ? reply : [reply]) this.#onReply(item);
  }

  #onReply(reply: unknown): void {
    if (typeof reply !== "object" || reply === null) return;
    const r = reply as Record<string, unknown>;
    if (r["method"] === PROGRESS_NOTIFICATION && !("id" in r)) {
      this.#onProgress(r["params"]);
      return;
    }
    if (typeof r["id"] !== "number") return;
    const pending = this.#settle(r["id"]);
    if (pending === undefined) return; // Its caller has already timed out.
    if (pending.cancelled !== undefined) {
      // The sidecar stopped the call (or it finished just before): the caller asked to cancel.
      pending.reject(pending.cancelled);
      return;
    }
    const error = r["error"];
    if (typeof error === "object" && error !== null) {
      pending.reject(errorFromRpc(error as { code: unknown; message: unknown; data?: unknown }));
    } else if ("result" in r) {
      pending.resolve(r["result"]);
    } else {
      pending.reject(
        new ArtregError({
          code: ClientErrorCode.UnexpectedResponse,
          message: `the artreg sidecar's reply to ${pending.method} has neither a result nor an error`,
          retryable: false,
          internal: false,
          context: { method: pending.method },
        }),
      );
    }
  }

  #onProgress(params: unknown): void {
    if (typeof params !== "object" || params === null) return;
    const progress = params as TransferProgress;
    if (typeof progress.id !== "number") return;
    const pending = this.#pending.get(progress.id);
    if (pending === undefined || pending.cancelled !== undefined) return;
    pending.touch();
    try {
      pending.onProgress?.(progress);
    } catch {
      // A throwing progress callback must not break the connection's message handling.
    }
  }

  #onClose(code: number, reason: string): void {
    this.#open = false;
    if (this.#tooLarge) {
      const limit = this.#maxPayload;
      this.#rejectAll(
        (method) =>
          new ArtregError({
            code: ClientErrorCode.ReplyTooLarge,
            message:
              `a reply from the artreg sidecar at ${this.#url} was larger than maxPayloadBytes (${limit} bytes), ` +
              `so the connection was closed before the reply to ${method}; raise maxPayloadBytes in connect()`,
            retryable: false,
            internal: false,
            httpStatusCode: 413,
            context: { url: this.#url, method, max_payload_bytes: limit, option: "maxPayloadBytes" },
          }),
      );
      return;
    }
    const why = `code ${code}${reason === "" ? "" : `, ${reason}`}`;
    this.#rejectAll((method) =>
      unavailable(`the connection to the artreg sidecar at ${this.#url} closed (${why}) before the reply to ${method}`, {
        url: this.#url,
        method,
        close_code: code,
      }),
    );
  }
}
