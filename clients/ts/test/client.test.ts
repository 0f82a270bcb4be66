// The client's protocol behaviour, against a scriptable WebSocket peer: request shapes for every
// method, reply and error mapping, timeouts, dropped connections, reconnects, auth and close().
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, afterEach, before, describe, it } from "node:test";

import {
  ArtifactRegistry,
  ArtregClient,
  ArtregError,
  ClientErrorCode,
  METHOD_PARAMS,
  connect,
  isArtregError,
  type ArtregMethodName,
  type Images,
  type TransferProgress,
  type CrossAccountAccess,
  type ErrorData,
} from "@artreg/client";

import { opened, rejection } from "./helpers/client.js";
import { FakeSidecar, delay, result } from "./helpers/fake-sidecar.js";

const AWS: CrossAccountAccess = {
  type: "aws",
  accountIds: ["123456789012"],
  regions: ["us-east-1"],
  roleArns: ["arn:aws:iam::123456789012:role/puller"],
  allowedServiceTypes: ["worker"],
};

/** Every ArtifactRegistry method called once, with the RPC method and params it must send. */
const CALLS: ReadonlyArray<{
  method: ArtregMethodName;
  call: (r: ArtifactRegistry) => Promise<unknown>;
  params: Record<string, unknown>;
  reply: unknown;
}> = [
  { method: "artifactRegistry.createRepository", call: (r) => r.createRepository("app"), params: { repoName: "app" }, reply: { name: "artifacts/app", uri: "h/artifacts/app", createdAt: null } },
  { method: "artifactRegistry.getRepository", call: (r) => r.getRepository("artifacts/app"), params: { repoId: "artifacts/app" }, reply: { name: "artifacts/app", uri: null, createdAt: null } },
  { method: "artifactRegistry.deleteRepository", call: (r) => r.deleteRepository("artifacts/app"), params: { repoId: "artifacts/app" }, reply: null },
  { method: "artifactRegistry.addCrossAccountAccess", call: (r) => r.addCrossAccountAccess("repo", AWS), params: { repoId: "repo", access: AWS }, reply: null },
  { method: "artifactRegistry.removeCrossAccountAccess", call: (r) => r.removeCrossAccountAccess("repo", AWS), params: { repoId: "repo", access: AWS }, reply: null },
  { method: "artifactRegistry.getCrossAccountAccess", call: (r) => r.getCrossAccountAccess("repo"), params: { repoId: "repo" }, reply: { access: AWS, lastUpdated: null } },
  { method: "artifactRegistry.generateCredentials", call: (r) => r.generateCredentials("repo", "push-pull", 600), params: { repoId: "repo", permissions: "push-pull", ttlSeconds: 600 }, reply: { authMethod: "basic", username: "u", password: "p", expiresAt: null } },
  { method: "artifactRegistry.cleanupCredentials", call: (r) => r.cleanupCredentials("repo"), params: { repoId: "repo" }, reply: null },
  { method: "artifactRegistry.registryEndpoint", call: (r) => r.registryEndpoint(), params: {}, reply: "http://127.0.0.1:5000" },
  { method: "artifactRegistry.upstreamRepositoryPrefix", call: (r) => r.upstreamRepositoryPrefix(), params: {}, reply: "artifacts" },
  { method: "artifactRegistry.getManifest", call: (r) => r.getManifest("artifacts/app", "latest"), params: { repoName: "artifacts/app", reference: "latest" }, reply: { manifest: "AAEC/w==", contentType: "application/vnd.oci.image.manifest.v1+json" } },
  { method: "artifactRegistry.headManifest", call: (r) => r.headManifest("artifacts/app", "latest"), params: { repoName: "artifacts/app", reference: "latest" }, reply: null },
  { method: "artifactRegistry.headBlob", call: (r) => r.headBlob("artifacts/app", "sha256:00"), params: { repoName: "artifacts/app", digest: "sha256:00" }, reply: 42 },
  { method: "artifactRegistry.generateBlobDownloadUrl", call: (r) => r.generateBlobDownloadUrl("artifacts/app", "sha256:00", 60), params: { repoName: "artifacts/app", digest: "sha256:00", ttlSeconds: 60 }, reply: null },
];

const TRANSFER = {
  source: "oci:/srv/app",
  destination: "h/app:v1@sha256:00",
  digest: "sha256:00",
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  blobs: 2,
  bytes: 10,
  skipped: 0,
  mounted: 0,
};

/** Every Images method and the two push primitives, with the RPC method and params each sends. */
const IMAGE_CALLS: ReadonlyArray<{
  method: ArtregMethodName;
  call: (i: Images, r: ArtifactRegistry) => Promise<unknown>;
  params: Record<string, unknown>;
  reply: unknown;
}> = [
  { method: "image.copy", call: (i) => i.copy("h/a:v1", "h/b", { platforms: ["linux/amd64"] }), params: { src: "h/a:v1", dst: "h/b", platforms: ["linux/amd64"] }, reply: { images: [TRANSFER] } },
  { method: "image.pushLayout", call: (i) => i.pushLayout("/srv/app", "h/app:v1", { jobs: 2 }), params: { dir: "/srv/app", ref: "h/app:v1", jobs: 2 }, reply: TRANSFER },
  { method: "image.pullLayout", call: (i) => i.pullLayout("h/app:v1", "/srv/out", { tag: "x" }), params: { ref: "h/app:v1", dir: "/srv/out", tag: "x" }, reply: TRANSFER },
  { method: "image.listTags", call: (i) => i.listTags("h/app"), params: { ref: "h/app" }, reply: ["a", "b"] },
  { method: "image.digest", call: (i) => i.digest("h/app:v1"), params: { ref: "h/app:v1" }, reply: "sha256:00" },
  { method: "artifactRegistry.uploadBlob", call: (_, r) => r.uploadBlob("repo", "sha256:01", Uint8Array.of(0, 1, 2, 255)), params: { bindingName: "artifacts", repoName: "repo", digest: "sha256:01", data: "AAEC/w==" }, reply: "uploaded" },
  { method: "artifactRegistry.putManifest", call: (_, r) => r.putManifest("repo", "v1", "{}", "application/json"), params: { bindingName: "artifacts", repoName: "repo", reference: "v1", manifest: "e30=", contentType: "application/json" }, reply: "sha256:02" },
];

/** Fails unless `params` has every required param of `method` and none the document does not list. */
function assertDocumentedParams(method: ArtregMethodName, params: Record<string, unknown>): void {
  const { required, optional } = METHOD_PARAMS[method];
  for (const name of required) assert.ok(name in params, `${method} lacks ${name}`);
  for (const name of Object.keys(params)) {
    assert.ok(required.includes(name) || optional.includes(name), `${method} sends unknown param ${name}`);
  }
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === "object");
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return address.port;
}

describe("ArtifactRegistry over a scripted peer", () => {
  let fake: FakeSidecar;
  let client: ArtregClient;

  before(async () => {
    fake = await FakeSidecar.start();
  });
  after(async () => {
    await fake.stop();
  });
  afterEach(async () => {
    await client?.close();
    fake.requiredToken = undefined;
    fake.requests.length = 0;
    fake.handler = (request) => result(request, null);
  });

  it("covers every method of the OpenRPC document", () => {
    assert.deepEqual(new Set([...CALLS, ...IMAGE_CALLS].map((c) => c.method)), new Set(Object.keys(METHOD_PARAMS)));
  });

  it("sends the image methods and push primitives with their documented params", async () => {
    client = await opened({ url: fake.url });
    for (const c of IMAGE_CALLS) {
      fake.handler = (request) => result(request, c.reply);
      fake.requests.length = 0;
      assert.deepEqual(await c.call(client.images, client.artifactRegistry("artifacts")), c.reply);
      const [request] = fake.requests;
      assert.ok(request !== undefined);
      assert.equal(request.method, c.method);
      assert.deepEqual(request.params, c.params);
      assertDocumentedParams(c.method, request.params);
    }
  });

  it("delivers progress notifications to the call they belong to, in order", async () => {
    client = await opened({ url: fake.url });
    fake.handler = (request, socket) => {
      if (request.method !== "image.pushLayout") return result(request, null);
      for (const seq of [1, 2, 3]) {
        const params = { id: request.id, seq, target: "h/app", digest: "sha256:0" + seq, status: "complete", done: 1, total: 1, bytesDone: seq, bytesTotal: 3, blobsDone: seq, blobsTotal: 3 };
        socket.send(JSON.stringify({ jsonrpc: "2.0", method: "$/progress", params }));
        // one for another call: not delivered here
        socket.send(JSON.stringify({ jsonrpc: "2.0", method: "$/progress", params: { ...params, id: request.id + 1000 } }));
      }
      return result(request, TRANSFER);
    };
    const seen: TransferProgress[] = [];
    const done = await client.images.pushLayout("/srv/app", "h/app:v1", { onProgress: (p) => seen.push(p) });
    assert.deepEqual(done, TRANSFER);
    assert.deepEqual(seen.map((p) => [p.seq, p.digest, p.bytesDone]), [[1, "sha256:01", 1], [2, "sha256:02", 2], [3, "sha256:03", 3]]);
  });

  it("progress restarts a transfer's time limit: timeoutMs bounds silence", async () => {
    client = await opened({ url: fake.url, timeoutMs: 1_500 });
    fake.handler = async (request, socket) => {
      for (let seq = 1; seq <= 6; seq++) {
        await delay(500);
        const params = { id: request.id, seq, target: "h/app", digest: "sha256:00", status: "transferring", done: seq, total: 9, bytesDone: seq, bytesTotal: 9, blobsDone: 0, blobsTotal: 1 };
        socket.send(JSON.stringify({ jsonrpc: "2.0", method: "$/progress", params }));
      }
      return result(request, TRANSFER);
    };
    let updates = 0;
    assert.deepEqual(await client.images.pushLayout("/srv/app", "h/app:v1", { onProgress: () => updates++ }), TRANSFER);
    assert.equal(updates, 6);
  });

  it("an AbortSignal sends $/cancelRequest and rejects with CANCELLED once the sidecar stopped the call", async () => {
    client = await opened({ url: fake.url });
    const controller = new AbortController();
    let running: { id: number; socket: import("ws").WebSocket } | undefined;
    fake.handler = (request, socket) => {
      if (request.method === "image.copy") {
        running = { id: request.id, socket };
        socket.send(JSON.stringify({ jsonrpc: "2.0", method: "$/progress", params: { id: request.id, seq: 1, target: "h/b", digest: "sha256:00", status: "transferring", done: 1, total: 9, bytesDone: 1, bytesTotal: 9, blobsDone: 0, blobsTotal: 1 } }));
        return "none";
      }
      if (request.method === "$/cancelRequest" && running !== undefined) {
        assert.deepEqual(request.params, { id: running.id });
        const data = { code: "CANCELLED", message: "image.copy: cancelled by the client", retryable: false, internal: false, httpStatusCode: 499, context: { operation: "image.copy" } };
        running.socket.send(JSON.stringify({ jsonrpc: "2.0", id: running.id, error: { code: -32000, message: data.message, data } }));
      }
      return "none";
    };
    const call = client.images.copy("h/a:v1", "h/b", { signal: controller.signal, onProgress: () => controller.abort() });
    const err = await rejection(call);
    assert.equal(err.code, ClientErrorCode.Cancelled);
    assert.equal(err.retryable, false);
    assert.equal(err.message, "the artreg call image.copy was cancelled: This operation was aborted");
    assert.deepEqual(fake.requests.map((r) => r.method), ["image.copy", "$/cancelRequest"]);
    // an already aborted signal sends nothing
    fake.requests.length = 0;
    const again = await rejection(client.images.digest("h/a:v1", { signal: controller.signal }));
    assert.equal(again.code, "CANCELLED");
    assert.deepEqual(fake.requests, []);
  });

  it("a reply over maxPayloadBytes is a non-retryable REPLY_TOO_LARGE naming the limit", async () => {
    client = await opened({ url: fake.url, maxPayloadBytes: 2_048 });
    fake.handler = (request) => result(request, Array.from({ length: 500 }, (_, i) => `tag-${i}`));
    const err = await rejection(client.images.listTags("h/app"));
    assert.equal(err.code, ClientErrorCode.ReplyTooLarge);
    assert.equal(err.retryable, false);
    assert.equal(err.context?.["max_payload_bytes"], 2_048);
    assert.match(err.message, /larger than maxPayloadBytes \(2048 bytes\)/);
  });

  it("sends each method by name with the binding name and the documented params", async () => {
    client = await opened({ url: fake.url });
    const registry = client.artifactRegistry("artifacts");
    for (const c of CALLS) {
      fake.handler = (request) => result(request, c.reply);
      fake.requests.length = 0;
      await c.call(registry);
      const [request] = fake.requests;
      assert.ok(request !== undefined);
      assert.equal(request.jsonrpc, "2.0");
      assert.equal(request.method, c.method);
      assert.deepEqual(request.params, { bindingName: "artifacts", ...c.params });
      assertDocumentedParams(c.method, request.params);
    }
  });

  it("returns results as sent, void for methods without one", async () => {
    client = await opened({ url: fake.url });
    const registry = client.artifactRegistry("artifacts");
    for (const c of CALLS) {
      fake.handler = (request) => result(request, c.reply);
      const value = await c.call(registry);
      if (c.method === "artifactRegistry.getManifest") continue;
      assert.deepEqual(value, c.reply === null && /delete|add|remove|cleanup/i.test(c.method) ? undefined : c.reply, c.method);
    }
  });

  it("omits ttlSeconds when generateCredentials is called without it", async () => {
    client = await opened({ url: fake.url });
    fake.handler = (request) => result(request, { authMethod: "basic", username: "", password: "", expiresAt: null });
    await client.artifactRegistry("artifacts").generateCredentials("repo", "pull");
    assert.deepEqual(fake.requests[0]?.params, { bindingName: "artifacts", repoId: "repo", permissions: "pull" });
  });

  it("decodes getManifest's base64 into the exact bytes", async () => {
    client = await opened({ url: fake.url });
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    fake.handler = (request) =>
      result(request, { manifest: Buffer.from(bytes).toString("base64"), contentType: "application/vnd.oci.image.index.v1+json" });
    const manifest = await client.artifactRegistry("artifacts").getManifest("artifacts/app", "v1");
    assert.ok(manifest.manifest instanceof Uint8Array);
    assert.deepEqual([...manifest.manifest], [...bytes]);
    assert.equal(manifest.contentType, "application/vnd.oci.image.index.v1+json");
  });

  it("matches replies to calls by id when they arrive out of order", async () => {
    client = await opened({ url: fake.url });
    fake.handler = async (request) => {
      const repoId = String(request.params["repoId"]);
      await delay(repoId === "slow" ? 100 : 0);
      return result(request, { name: repoId, uri: null, createdAt: null });
    };
    const registry = client.artifactRegistry("artifacts");
    const names = ["slow", ...Array.from({ length: 20 }, (_, i) => `fast-${i}`)];
    const replies = await Promise.all(names.map((name) => registry.getRepository(name)));
    assert.deepEqual(replies.map((r) => r.name), names);
  });

  it("throws the sidecar's error with its code, flags, context and cause chain", async () => {
    client = await opened({ url: fake.url });
    const data: ErrorData = {
      code: "BINDING_CONFIG_INVALID",
      message: "Failed to initialize AWS ECR artifact registry",
      context: { binding_name: "prod", reason: "bad region" },
      hint: "check the binding",
      retryable: false,
      internal: false,
      httpStatusCode: 400,
      source: { code: "CLIENT_CONFIG_INVALID", message: "inner", retryable: false, internal: false, httpStatusCode: 400 },
    };
    fake.handler = (request) => ({ jsonrpc: "2.0", id: request.id, error: { code: -32000, message: data.message, data } });
    const err = await rejection(client.artifactRegistry("prod").getRepository("x"));
    assert.equal(err.code, "BINDING_CONFIG_INVALID");
    assert.equal(err.message, data.message);
    assert.equal(err.httpStatusCode, 400);
    assert.equal(err.retryable, false);
    assert.equal(err.internal, false);
    assert.deepEqual(err.context, { binding_name: "prod", reason: "bad region" });
    assert.equal(err.hint, "check the binding");
    assert.equal(err.rpcCode, -32000);
    assert.ok(err.source instanceof ArtregError);
    assert.equal(err.source.code, "CLIENT_CONFIG_INVALID");
    assert.equal(err.cause, err.source);
    assert.deepEqual(err.toJSON(), data);
    assert.ok(isArtregError(err, "BINDING_CONFIG_INVALID"));
    assert.match(String(err), /^ArtregError \[BINDING_CONFIG_INVALID\]: Failed to initialize/);
  });

  it("maps a standard JSON-RPC error without artreg data by its code", async () => {
    client = await opened({ url: fake.url });
    fake.handler = (request) => ({ jsonrpc: "2.0", id: request.id, error: { code: -32602, message: "Invalid params" } });
    const err = await rejection(client.artifactRegistry("artifacts").getRepository("x"));
    assert.equal(err.code, "INVALID_INPUT");
    assert.equal(err.httpStatusCode, 400);
    assert.equal(err.rpcCode, -32602);
  });

  it("rejects a call with no reply within timeoutMs, and keeps the connection usable", async () => {
    client = await opened({ url: fake.url, timeoutMs: 150 });
    // Gates instead of clocks: the late reply is held until the client has given up on it, and
    // the next call is made only once that reply has gone out.
    let releaseLate!: () => void;
    const lateHeld = new Promise<void>((resolve) => (releaseLate = resolve));
    let lateAnswered!: () => void;
    const lateSent = new Promise<void>((resolve) => (lateAnswered = resolve));
    fake.handler = async (request) => {
      if (request.params["repoId"] === "never") return "none";
      if (request.params["repoId"] === "late") {
        await lateHeld;
        setImmediate(lateAnswered); // after the fake has written this reply
      }
      return result(request, { name: String(request.params["repoId"]), uri: null, createdAt: null });
    };
    const registry = client.artifactRegistry("artifacts");
    const err = await rejection(registry.getRepository("never"));
    assert.equal(err.code, ClientErrorCode.Timeout);
    assert.equal(err.retryable, true);
    assert.match(err.message, /artifactRegistry\.getRepository timed out after 150 ms/);
    assert.deepEqual(
      fake.requests.map((r) => r.params["repoId"]),
      ["never"],
      "the call reached the sidecar and timed out waiting, it was not refused up front",
    );
    assert.equal((await rejection(registry.getRepository("late"))).code, "TIMEOUT");
    releaseLate();
    await lateSent; // the late reply arrives for a call that gave up: ignored
    assert.equal((await registry.getRepository("ok")).name, "ok");
    assert.ok(client.connected);
  });

  it("drops a connection whose peer stops answering pings after a timeout, and reconnects", async () => {
    client = await opened({ url: fake.url, timeoutMs: 100 });
    const [stalled] = [...fake.sockets];
    assert.ok(stalled !== undefined);
    fake.handler = (request, socket) => {
      if (socket !== stalled) return result(request, "fresh");
      // A peer that is gone without closing: it reads nothing more, so answers no ping.
      (socket as unknown as { _socket: { pause(): void } })._socket.pause();
      return "none";
    };
    const registry = client.artifactRegistry("artifacts");
    assert.equal((await rejection(registry.registryEndpoint())).code, "TIMEOUT");
    while (client.connected) await delay(10);
    assert.equal(await registry.registryEndpoint(), "fresh");
  });

  it("keeps a connection whose peer answers pings after a timeout", async () => {
    client = await opened({ url: fake.url, timeoutMs: 100 });
    fake.handler = async (request) => {
      await delay(request.params["repoId"] === "slow" ? 300 : 0);
      return result(request, { name: String(request.params["repoId"]), uri: null, createdAt: null });
    };
    const handshakes = fake.handshakes.length;
    const registry = client.artifactRegistry("artifacts");
    assert.equal((await rejection(registry.getRepository("slow"))).code, "TIMEOUT");
    await delay(150);
    assert.ok(client.connected);
    assert.equal((await registry.getRepository("quick")).name, "quick");
    assert.equal(fake.handshakes.length, handshakes);
  });

  it("honours a per-call timeout", async () => {
    client = await opened({ url: fake.url, timeoutMs: 10_000 });
    fake.handler = () => "none";
    const err = await rejection(client.call("artifactRegistry.registryEndpoint", { bindingName: "artifacts" }, { timeoutMs: 50 }));
    assert.equal(err.code, "TIMEOUT");
  });

  it("rejects the calls in flight when the connection drops, and reconnects on the next call", async () => {
    client = await opened({ url: fake.url });
    fake.handler = () => "none";
    const registry = client.artifactRegistry("artifacts");
    const inFlight = Array.from({ length: 5 }, (_, i) => rejection(registry.getRepository(`r${i}`)));
    while (fake.requests.length < 5) await delay(5);
    fake.dropAll();
    for (const err of await Promise.all(inFlight)) {
      assert.equal(err.code, ClientErrorCode.Unavailable);
      assert.equal(err.retryable, true);
      assert.match(err.message, /closed .* before the reply to artifactRegistry\.getRepository/);
    }
    const handshakes = fake.handshakes.length;
    fake.handler = (request) => result(request, "http://127.0.0.1:1");
    assert.equal(await registry.registryEndpoint(), "http://127.0.0.1:1");
    assert.equal(fake.handshakes.length, handshakes + 1);
  });

  it("shares one reconnect among concurrent calls", async () => {
    client = await opened({ url: fake.url });
    fake.dropAll();
    while (client.connected) await delay(5);
    const handshakes = fake.handshakes.length;
    fake.handler = (request) => result(request, "p");
    const replies = await Promise.all(Array.from({ length: 10 }, () => client.artifactRegistry("a").upstreamRepositoryPrefix()));
    assert.deepEqual(replies, Array(10).fill("p"));
    assert.equal(fake.handshakes.length, handshakes + 1);
  });

  it("sends the token as a bearer header and reports a refused one without revealing it", async () => {
    fake.requiredToken = "s3cret-token";
    client = await opened({ url: fake.url, token: "s3cret-token" });
    assert.equal(fake.handshakes.at(-1)?.headers.authorization, "Bearer s3cret-token");
    await client.close();

    for (const token of ["wrong-token-value", undefined]) {
      client = connect({ url: fake.url, token });
      for (const err of [await rejection(client.open()), await rejection(client.artifactRegistry("a").registryEndpoint())]) {
        assert.equal(err.code, ClientErrorCode.Authentication);
        assert.equal(err.httpStatusCode, 401);
        assert.equal(err.retryable, false);
        assert.ok(!JSON.stringify({ ...err.toJSON(), stack: err.stack }).includes("wrong-token-value"));
      }
      await client.close();
    }
  });

  it("reports an unreachable sidecar as REMOTE_SERVICE_UNAVAILABLE", async () => {
    const port = await closedPort();
    client = connect({ url: `ws://user:pw@127.0.0.1:${port}/?token=abc`, timeoutMs: 2_000 });
    const err = await rejection(client.artifactRegistry("a").registryEndpoint());
    assert.equal(err.code, ClientErrorCode.Unavailable);
    assert.match(err.message, new RegExp(`ws://127\\.0\\.0\\.1:${port}`));
    assert.ok(!err.message.includes("pw") && !err.message.includes("abc"));
  });

  it("close() rejects the calls in flight and every later call", async () => {
    client = await opened({ url: fake.url });
    fake.handler = () => "none";
    const pending = rejection(client.artifactRegistry("a").registryEndpoint());
    while (fake.requests.length < 1) await delay(5);
    await client.close();
    assert.equal((await pending).code, ClientErrorCode.Closed);
    assert.equal((await rejection(client.artifactRegistry("a").registryEndpoint())).code, ClientErrorCode.Closed);
    assert.ok(client.closed);
    await client.close(); // idempotent
  });

  it("connect() returns the client at once and connects in the background", async () => {
    const handshakes = fake.handshakes.length;
    client = connect({ url: fake.url });
    assert.ok(client instanceof ArtregClient);
    assert.equal(await client, client); // `await connect(...)` gives the same client
    fake.handler = (request) => result(request, "p");
    assert.equal(await client.artifactRegistry("a").upstreamRepositoryPrefix(), "p");
    assert.equal(fake.handshakes.length, handshakes + 1);
  });

  it("a call made while the sidecar is unreachable tries again", async () => {
    const port = await closedPort();
    client = connect({ url: `ws://127.0.0.1:${port}`, timeoutMs: 2_000 });
    assert.equal((await rejection(client.open())).code, ClientErrorCode.Unavailable);
    const late = await FakeSidecar.start(port);
    try {
      late.handler = (request) => result(request, "up");
      assert.equal(await client.artifactRegistry("a").registryEndpoint(), "up");
    } finally {
      await client.close();
      await late.stop();
    }
  });

  it("close() during the handshake leaves no socket open", async () => {
    client = connect({ url: fake.url });
    await client.close();
    await delay(50);
    assert.equal(fake.sockets.size, 0);
    assert.equal((await rejection(client.open())).code, ClientErrorCode.Closed);
  });

  it("rejects bad options with CLIENT_CONFIG_INVALID", async () => {
    for (const options of [
      { url: "not a url" },
      { url: "http://127.0.0.1:1" },
      { url: fake.url, timeoutMs: 0 },
      { url: fake.url, timeoutMs: Number.NaN },
      { url: fake.url, token: "" },
      { url: fake.url, token: "a\r\nX-Injected: 1" },
    ]) {
      assert.throws(() => connect(options), (err: unknown) => isArtregError(err, ClientErrorCode.ConfigInvalid), JSON.stringify(options));
    }
    client = new ArtregClient({ url: fake.url });
    assert.throws(() => client.artifactRegistry(""), (err: unknown) => isArtregError(err, "CLIENT_CONFIG_INVALID"));
    assert.equal(client.connected, false); // the constructor does not connect
  });
});

describe("ArtregError", () => {
  it("round-trips the wire shape and omits absent keys", () => {
    const data: ErrorData = { code: "RESOURCE_NOT_FOUND", message: "Resource 'x' not found", retryable: false, internal: false };
    const err = ArtregError.fromData(data);
    assert.deepEqual(err.toJSON(), data);
    assert.equal(err.httpStatusCode, undefined);
    assert.equal(err.name, "ArtregError");
    assert.ok(err instanceof Error);
  });
});

