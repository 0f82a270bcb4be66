// A scriptable JSON-RPC-over-WebSocket peer on 127.0.0.1, for the client's protocol tests (timeouts,
// dropped connections, out-of-order replies). The behaviour against the real sidecar is pinned in
// sidecar.test.ts.
import type { IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

import { WebSocket, WebSocketServer } from "ws";

export interface Request {
  jsonrpc: string;
  id: number;
  method: string;
  params: Record<string, unknown>;
}

/** What a handler does with a request: a reply object to send, or "none" to stay silent. */
export type Handler = (request: Request, socket: WebSocket) => object | "none" | Promise<object | "none">;

export class FakeSidecar {
  readonly requests: Request[] = [];
  readonly handshakes: IncomingMessage[] = [];
  readonly sockets = new Set<WebSocket>();
  handler: Handler = (request) => ({ jsonrpc: "2.0", id: request.id, result: null });
  requiredToken: string | undefined;

  private constructor(private readonly server: WebSocketServer) {
    server.on("connection", (socket, req) => {
      this.sockets.add(socket);
      this.handshakes.push(req);
      socket.on("close", () => this.sockets.delete(socket));
      socket.on("message", async (data) => {
        const request = JSON.parse(String(data)) as Request;
        this.requests.push(request);
        const reply = await this.handler(request, socket);
        if (reply !== "none" && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(reply));
      });
    });
  }

  static async start(port = 0): Promise<FakeSidecar> {
    let fake: FakeSidecar | undefined;
    const server = new WebSocketServer({
      host: "127.0.0.1",
      port,
      verifyClient: (info, done) => {
        const token = fake?.requiredToken;
        if (token === undefined || info.req.headers.authorization === `Bearer ${token}`) done(true);
        else done(false, 401, "Unauthorized");
      },
    });
    fake = new FakeSidecar(server);
    await new Promise<void>((resolve) => server.once("listening", () => resolve()));
    return fake;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** Drops every open connection without a closing handshake. */
  dropAll(): void {
    for (const socket of this.sockets) socket.terminate();
  }

  async stop(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export function result(request: Request, value: unknown): object {
  return { jsonrpc: "2.0", id: request.id, result: value };
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
