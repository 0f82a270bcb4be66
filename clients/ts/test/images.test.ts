// Image operations from Node against a real `artreg serve`: push a multi-layer OCI layout with
// progress, copy it, pull it back byte for byte, check digests with skopeo (an independent client),
// build an image with uploadBlob + putManifest, cancel a 256 MiB push midway, and the errors a down
// or silent registry gives.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";

import { connect, type ArtregClient, type TransferProgress } from "@artreg/client";

import { opened, rejection } from "./helpers/client.js";
import { writeLayout, OCI_CONFIG, OCI_LAYER, type Layout } from "./helpers/layout.js";
import { OCI_MANIFEST, sha256 } from "./helpers/oci.js";
import { Sidecar, missingArtreg } from "./helpers/sidecar.js";

const run = promisify(execFile);
const IN_CI = ["1", "true", "yes"].includes((process.env["CI"] ?? "").toLowerCase());

function missingSkopeo(): string | undefined {
  const found = (process.env["PATH"] ?? "").split(":").some((dir) => dir !== "" && existsSync(join(dir, "skopeo")));
  return found ? undefined : "skopeo not found on PATH (scripts/system-deps.sh installs it)";
}

const missing = missingArtreg() ?? missingSkopeo();
if (missing !== undefined && IN_CI) throw new Error(`the image tests need artreg and skopeo: ${missing}`);
const skip = missing === undefined ? false : `the image tests need artreg and skopeo: ${missing}`;

const MiB = 1 << 20;

/** skopeo's view of a manifest: its exact bytes, as stored by the registry. */
async function skopeoRaw(ref: string): Promise<Buffer> {
  const { stdout } = await run("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${ref}`], {
    encoding: "buffer",
    maxBuffer: 16 * MiB,
  });
  return stdout;
}

async function skopeoDigest(ref: string): Promise<string> {
  const { stdout } = await run("skopeo", ["inspect", "--tls-verify=false", "--format", "{{.Digest}}", `docker://${ref}`]);
  return stdout.trim();
}

function blobFile(dir: string, digest: string): string {
  return join(dir, "blobs", "sha256", digest.slice("sha256:".length));
}

/** Every file name under `dir`, recursively. */
function fileNames(dir: string): string[] {
  const names: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) names.push(...fileNames(path));
    else names.push(entry.name);
  }
  return names;
}

/** The upload sessions the embedded registry holds (the entries of its `uploads` directories). */
function uploadSessions(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const path = join(dir, entry.name);
    if (entry.name === "uploads") found.push(...readdirSync(path));
    else found.push(...uploadSessions(path));
  }
  return found;
}

describe("image operations against artreg serve", { skip }, () => {
  let sidecar: Sidecar;
  let client: ArtregClient;
  let work: string;
  let layout: Layout;

  before(async () => {
    sidecar = await Sidecar.start();
    client = await opened({ url: sidecar.url, timeoutMs: 20_000 });
    work = mkdtempSync(join(tmpdir(), "artreg-ts-images-"));
    layout = writeLayout(join(work, "app"), "v1", [3 * MiB, 300_000, 1_234_567]);
  });

  after(async () => {
    await client?.close();
    await sidecar?.dispose();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it("pushes a multi-layer layout with progress, copies it, pulls it back byte for byte; skopeo agrees", async () => {
    const ref = `${sidecar.registry}/artifacts/app:v1`;
    const seen: TransferProgress[] = [];
    const pushed = await client.images.pushLayout(layout.dir, ref, { onProgress: (p) => seen.push(p) });
    assert.equal(pushed.digest, layout.digest);
    assert.equal(pushed.destination, `${ref}@${layout.digest}`);
    assert.equal(pushed.source, `oci:${layout.dir}`);
    assert.equal(pushed.mediaType, OCI_MANIFEST);
    assert.equal(pushed.blobs, 4);
    assert.equal(pushed.skipped, 0);

    // progress: numbered 1..n in arrival order, one final status per blob, totals that only grow
    assert.deepEqual(seen.map((p) => p.seq), seen.map((_, i) => i + 1));
    const finals = seen.filter((p) => p.status !== "transferring");
    assert.deepEqual(finals.map((p) => p.digest).sort(), [...layout.blobs].sort());
    assert.deepEqual(finals.map((p) => p.blobsDone), [1, 2, 3, 4]);
    assert.ok(finals.every((p) => p.status === "complete" && p.done === layout.sizes[p.digest]));
    const total = Object.values(layout.sizes).reduce((a, b) => a + b, 0);
    assert.ok(seen.every((p) => p.bytesTotal === total && p.blobsTotal === 4));
    const bytesDone = seen.map((p) => p.bytesDone);
    assert.deepEqual(bytesDone, [...bytesDone].sort((a, b) => a - b));
    assert.equal(bytesDone.at(-1), total);
    assert.ok(seen.some((p) => p.status === "transferring" && p.digest === layout.blobs[1]), "the 3 MiB layer reports bytes on the way");

    assert.deepEqual(await skopeoRaw(ref), Buffer.from(layout.manifest));
    assert.equal(await client.images.digest(ref), layout.digest);
    assert.deepEqual(await client.images.listTags(`${sidecar.registry}/artifacts/app`), ["v1"]);

    const copied = await client.images.copy(ref, `${sidecar.registry}/artifacts/copy`);
    assert.equal(copied.images.length, 1);
    assert.equal(copied.images[0]?.digest, layout.digest);
    assert.equal(copied.images[0]?.destination, `${sidecar.registry}/artifacts/copy:v1@${layout.digest}`);
    assert.equal(await skopeoDigest(`${sidecar.registry}/artifacts/copy:v1`), layout.digest);

    const pulledDir = join(work, "pulled");
    const pulled = await client.images.pullLayout(`${sidecar.registry}/artifacts/copy:v1`, pulledDir);
    assert.equal(pulled.digest, layout.digest);
    assert.equal(pulled.destination, `oci:${pulledDir}:v1`);
    for (const digest of [layout.digest, ...layout.blobs]) {
      const back = readFileSync(blobFile(pulledDir, digest));
      assert.equal(sha256(back), digest);
      assert.deepEqual(back, readFileSync(blobFile(layout.dir, digest)));
    }
    const index = JSON.parse(readFileSync(join(pulledDir, "index.json"), "utf8")) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
    assert.deepEqual(index.manifests.map((m) => [m.digest, m.annotations?.["org.opencontainers.image.ref.name"]]), [[layout.digest, "v1"]]);
  });

  it("uploadBlob and putManifest make an image skopeo can inspect", async () => {
    const registry = client.artifactRegistry("artifacts");
    const repo = (await registry.createRepository("primitives")).name;
    const config = new TextEncoder().encode(JSON.stringify({ architecture: "arm64", os: "linux", rootfs: { type: "layers", diff_ids: [] }, config: {} }));
    const layer = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 7 + 3) % 251);
    assert.equal(await registry.uploadBlob(repo, sha256(config), config), "uploaded");
    assert.equal(await registry.uploadBlob(repo, sha256(layer), layer), "uploaded");
    assert.equal(await registry.uploadBlob(repo, sha256(layer), layer), "exists");
    const manifest = JSON.stringify(
      {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_CONFIG, digest: sha256(config), size: config.byteLength },
        layers: [{ mediaType: OCI_LAYER, digest: sha256(layer), size: layer.byteLength }],
      },
      null,
      4,
    );
    const digest = await registry.putManifest(repo, "v1", manifest, OCI_MANIFEST);
    assert.equal(digest, `sha256:${createHash("sha256").update(manifest).digest("hex")}`);
    const ref = `${sidecar.registry}/${repo}:v1`;
    assert.equal((await skopeoRaw(ref)).toString("utf8"), manifest);
    const { stdout } = await run("skopeo", ["inspect", "--tls-verify=false", `docker://${ref}`]);
    const inspected = JSON.parse(stdout) as { Digest: string; Architecture: string; Layers: string[] };
    assert.equal(inspected.Digest, digest);
    assert.equal(inspected.Architecture, "arm64");
    assert.deepEqual(inspected.Layers, [sha256(layer)]);

    const big = new Uint8Array(512 * 1024 + 1);
    const err = await rejection(registry.uploadBlob(repo, sha256(big), big));
    assert.equal(err.code, "INVALID_INPUT");
    assert.equal(err.retryable, false);
    assert.match(err.message, /524289 bytes exceed the limit of 524288 bytes/);
    assert.match(err.hint ?? "", /image\.pushLayout/);
    assert.equal(await registry.headBlob(repo, sha256(big)), null);
  });

  it("cancels a 256 MiB push midway: the call rejects CANCELLED and the registry holds no blob of it", async () => {
    const big = writeLayout(join(work, "big"), "v1", [256 * MiB]);
    const layer = big.blobs[1] ?? "";
    const controller = new AbortController();
    const seen: TransferProgress[] = [];
    const push = client.images.pushLayout(big.dir, `${sidecar.registry}/artifacts/big:v1`, {
      jobs: 1,
      signal: controller.signal,
      onProgress: (p) => {
        seen.push(p);
        if (p.digest === layer && p.status === "transferring") controller.abort();
      },
    });
    const err = await rejection(push);
    assert.equal(err.code, "CANCELLED");
    assert.equal(err.retryable, false);
    const last = seen.at(-1);
    assert.ok(last !== undefined && last.digest === layer && last.done < 256 * MiB, "cancelled midway");
    assert.equal(await client.artifactRegistry("artifacts").headBlob("artifacts/big", layer), null);
    assert.equal(await client.artifactRegistry("artifacts").headManifest("artifacts/big", "v1"), null);
    // nothing of it in the registry's storage either, not even the upload session
    assert.ok(!fileNames(sidecar.dataDir).includes(layer.slice("sha256:".length)));
    assert.deepEqual(uploadSessions(sidecar.dataDir), []);
    assert.ok(statSync(blobFile(big.dir, layer)).size === 256 * MiB); // the source is untouched
    // the connection still serves
    assert.deepEqual(await client.images.listTags(`${sidecar.registry}/artifacts/app`), ["v1"]);
  });

  it("refuses relative paths: they name the sidecar's file system", async () => {
    const err = await rejection(client.images.pullLayout(`${sidecar.registry}/artifacts/app:v1`, "relative/dir"));
    assert.equal(err.code, "INVALID_INPUT");
    assert.equal(err.context?.["field_name"], "dir");
    assert.match(err.hint ?? "", /sidecar/);
  });

  it("a down registry is REMOTE_SERVICE_UNAVAILABLE naming its host", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const err = await rejection(client.images.digest(`127.0.0.1:${port}/app:v1`));
    assert.equal(err.code, "REMOTE_SERVICE_UNAVAILABLE");
    assert.equal(err.rpcCode, -32000);
    assert.match(err.message, new RegExp(`connection to 127\\.0\\.0\\.1:${port} failed`));
    assert.equal(err.retryable, true);
  });
});

describe("a silent upstream", { skip }, () => {
  let sidecar: Sidecar;
  let client: ArtregClient;
  let stalled: Server;
  const held = new Set<Socket>();

  before(async () => {
    stalled = createServer((socket) => held.add(socket)); // accepts, never answers
    await new Promise<void>((resolve) => stalled.listen(0, "127.0.0.1", resolve));
    sidecar = await Sidecar.start({ args: ["--call-timeout", "1"] });
    client = connect({ url: sidecar.url, timeoutMs: 20_000 });
  });

  after(async () => {
    await client?.close();
    await sidecar?.dispose();
    for (const socket of held) socket.destroy();
    await new Promise<void>((resolve) => stalled.close(() => resolve()));
  });

  it("yields TIMEOUT from the sidecar (its --call-timeout), long before the client's own limit", async () => {
    const host = `127.0.0.1:${(stalled.address() as { port: number }).port}`;
    const err = await rejection(client.images.digest(`${host}/app:v1`));
    assert.equal(err.code, "TIMEOUT");
    assert.equal(err.rpcCode, -32000, "the sidecar's answer, not the client's timeout");
    assert.equal(err.message, "image.digest: timed out: no answer within 1 s (the sidecar's call timeout, --call-timeout)");
  });
});

describe("a binding whose registry is down", { skip }, () => {
  let sidecar: Sidecar;
  let client: ArtregClient;
  let host: string;

  before(async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    host = `127.0.0.1:${(server.address() as { port: number }).port}`;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const binding = JSON.stringify({ service: "local", registryUrl: host, dataDir: null });
    sidecar = await Sidecar.start({ env: { ALIEN_DOWN_BINDING: binding } });
    client = connect({ url: sidecar.url, timeoutMs: 20_000 });
  });

  after(async () => {
    await client?.close();
    await sidecar?.dispose();
  });

  it("reads say REMOTE_SERVICE_UNAVAILABLE with the host", async () => {
    const err = await rejection(client.artifactRegistry("down").getManifest("app", "v1"));
    assert.equal(err.code, "REMOTE_SERVICE_UNAVAILABLE");
    assert.equal(err.retryable, true);
    assert.match(err.message, new RegExp(`connection to ${host.replaceAll(".", "\\.")} failed: ConnectError`));
  });

  it("a provider's internal wrapper keeps the public cause as source", async () => {
    const err = await rejection(client.artifactRegistry("down").createRepository("app"));
    assert.equal(err.code, "BINDINGS_ERROR");
    assert.equal(err.message, "Internal error");
    assert.equal(err.internal, true);
    assert.equal(err.source?.code, "REMOTE_SERVICE_UNAVAILABLE");
    assert.equal(err.source?.internal, false);
    assert.match(err.source?.message ?? "", new RegExp(`connection to ${host.replaceAll(".", "\\.")} failed`));
    assert.equal(err.cause, err.source);
  });
});
