import WebSocket from "ws";

import { ArtregError, ClientErrorCode, errorFromRpc } from "./errors.js";

/** How long `close()` waits for the sidecar's closing handshake before dropping the socket. */
const CLOSE_GRACE_MS = 1_000;

/** After a call times out, how long the sidecar has to answer a ping before the socket is dropped. */
const PROBE_TIMEOUT_MS = 5_000;

interface Pending {
  readonly method: string;
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: ArtregError) => void;
  readonly timer: NodeJS.Timeout;
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

  private constructor(ws: WebSocket, url: string) {
    this.#ws = ws;
    this.#url = url;
    ws.on("message", (data) => this.#onMessage(data));
    ws.on("close", (code, reason) => this.#onClose(code, reason.toString("utf8")));
    // A socket error is always followed by "close", which rejects what is pending.
    ws.on("error", () => undefined);
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
        resolve(new Connection(ws, shown));
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
  request(method: string, params: object, timeoutMs: number, waitMs: number = timeoutMs): Promise<unknown> {
    if (!this.isOpen) {
      return Promise.reject(unavailable(`the connection to the artreg sidecar at ${this.#url} is closed`, { url: this.#url, method }));
    }
    const id = this.#nextId++;
    const message = JSON.stringify({ jsonrpc: "2.0", id, method, params });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.#pending.delete(id)) return;
        reject(timeoutError(`the artreg call ${method}`, timeoutMs));
        this.#probe(Math.min(timeoutMs, PROBE_TIMEOUT_MS));
      }, waitMs);
      this.#pending.set(id, { method, resolve, reject, timer });
      this.#ws.send(message, (err) => {
        if (err !== undefined && err !== null) {
          this.#settle(id)?.reject(
            unavailable(`could not send ${method} to the artreg sidecar at ${this.#url}: ${err.message}`, { url: this.#url, method }),
          );
        }
      });
    });
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
      entry?.reject(reason(entry.method));
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
    if (typeof r["id"] !== "number") return;
    const pending = this.#settle(r["id"]);
    if (pending === undefined) return; // Its caller has already timed out.
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

  #onClose(code: number, reason: string): void {
    this.#open = false;
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
