// The client against a real `artreg serve`: the embedded registry and the JSON-RPC sidecar, serving
// the default `local` binding named `artifacts`, on free ports with a temporary data directory.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";

import {
  API_VERSION,
  ArtregClient,
  ArtregError,
  METHOD_PARAMS,
  connect,
  type ArtifactRegistry,
  type CrossAccountAccess,
  type RepositoryResponse,
} from "@artreg/client";

import { opened, rejection } from "./helpers/client.js";
import { OCI_MANIFEST, pushImage, sha256, type PushedImage } from "./helpers/oci.js";
import { Sidecar, missingArtreg } from "./helpers/sidecar.js";

const IN_CI = ["1", "true", "yes"].includes((process.env["CI"] ?? "").toLowerCase());
const missing = missingArtreg();
if (missing !== undefined && IN_CI) throw new Error(`the sidecar tests need artreg: ${missing}`);
const skip = missing === undefined ? false : `the sidecar tests need artreg: ${missing}`;

const BINDING = "artifacts";
const HERE = dirname(fileURLToPath(import.meta.url));
const EXAMPLE = resolve(HERE, "../examples/usage.js");
const OPENRPC = resolve(HERE, "../../../../schemas/openrpc.json");

const AWS: CrossAccountAccess = {
  type: "aws",
  accountIds: ["123456789012"],
  regions: ["us-east-1"],
  roleArns: ["arn:aws:iam::123456789012:role/puller"],
  allowedServiceTypes: ["worker"],
};
const GCP: CrossAccountAccess = {
  type: "gcp",
  projectNumbers: ["123456789"],
  serviceAccountEmails: ["puller@example.iam.gserviceaccount.com"],
  allowedServiceTypes: ["worker"],
};

function wait(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/** Resolves once `done()` holds (checked every 10 ms), failing after `limitMs`. */
async function until(done: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!done()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await wait(10);
  }
}

describe("@artreg/client against artreg serve", { skip }, () => {
  let sidecar: Sidecar;
  let client: ArtregClient;
  let registry: ArtifactRegistry;
  let repo: RepositoryResponse;
  let image: PushedImage;

  before(async () => {
    sidecar = await Sidecar.start();
    client = await opened({ url: sidecar.url, timeoutMs: 15_000 });
    registry = client.artifactRegistry(BINDING);
    repo = await registry.createRepository("ts-client");
    image = await pushImage(sidecar.registry, repo.name, "v1");
  });

  after(async () => {
    await client?.close();
    await sidecar?.dispose();
  });

  it("prints a ws:// URL and a registry address", () => {
    assert.match(sidecar.url, /^ws:\/\/127\.0\.0\.1:\d+$/);
    assert.match(sidecar.registry, /^127\.0\.0\.1:\d+$/);
  });

  it("serves the OpenRPC document the client was generated from", async () => {
    const served = await client.discover();
    assert.deepEqual(served, JSON.parse(readFileSync(OPENRPC, "utf8")));
    assert.equal(served.info.version, API_VERSION);
    assert.deepEqual(new Set(served.methods.map((m) => m.name)), new Set(Object.keys(METHOD_PARAMS)));
  });

  it("registryEndpoint and upstreamRepositoryPrefix describe the embedded registry", async () => {
    assert.equal(await registry.registryEndpoint(), `http://${sidecar.registry}`);
    const prefix = await registry.upstreamRepositoryPrefix();
    assert.equal(typeof prefix, "string");
    assert.ok(prefix.length > 0);
  });

  it("createRepository returns the routable name, and getRepository finds it by that name", async () => {
    assert.match(repo.name, /ts-client$/);
    assert.ok(repo.uri?.includes(repo.name), `uri ${repo.uri} should name ${repo.name}`);
    const found = await registry.getRepository(repo.name);
    assert.equal(found.name, repo.name);
    assert.equal(found.uri, repo.uri);
    const again = await registry.createRepository("ts-client");
    assert.equal(again.name, repo.name);
  });

  it("getManifest returns the exact bytes pushed, headManifest their digest", async () => {
    const byTag = await registry.getManifest(repo.name, "v1");
    assert.ok(byTag.manifest instanceof Uint8Array);
    assert.equal(Buffer.from(byTag.manifest).compare(Buffer.from(image.manifest)), 0);
    assert.equal(byTag.contentType, OCI_MANIFEST);
    const byDigest = await registry.getManifest(repo.name, image.digest);
    assert.equal(sha256(byDigest.manifest), image.digest);

    assert.deepEqual(await registry.headManifest(repo.name, "v1"), { contentType: OCI_MANIFEST, digest: image.digest });
    assert.equal(await registry.headManifest(repo.name, "no-such-tag"), null);
  });

  it("the repository createRepository made holds a manifest of its own", async () => {
    const head = await registry.headManifest(repo.name, "latest");
    assert.ok(head !== null);
    const { manifest } = await registry.getManifest(repo.name, "latest");
    assert.equal(sha256(manifest), head.digest);
  });

  it("headBlob gives a blob's size, or null", async () => {
    assert.equal(await registry.headBlob(repo.name, image.layer.digest), image.layer.size);
    assert.equal(await registry.headBlob(repo.name, image.config.digest), image.config.size);
    assert.equal(await registry.headBlob(repo.name, sha256(new TextEncoder().encode("never pushed"))), null);
  });

  it("generateBlobDownloadUrl is null on the local registry (it serves blobs itself)", async () => {
    assert.equal(await registry.generateBlobDownloadUrl(repo.name, image.layer.digest, 300), null);
  });

  it("generateCredentials and cleanupCredentials", async () => {
    for (const permissions of ["pull", "push-pull"] as const) {
      // The embedded registry is anonymous: empty Basic credentials that never expire.
      const anonymous = { authMethod: "basic", username: "", password: "", expiresAt: null };
      assert.deepEqual(await registry.generateCredentials(repo.name, permissions), anonymous);
      assert.deepEqual(await registry.generateCredentials(repo.name, permissions, 600), anonymous);
    }
    assert.equal(await registry.cleanupCredentials(repo.name), undefined);
  });

  it("the cross-account methods are OPERATION_NOT_SUPPORTED on the local registry", async () => {
    for (const call of [
      () => registry.addCrossAccountAccess(repo.name, AWS),
      () => registry.removeCrossAccountAccess(repo.name, GCP),
      () => registry.getCrossAccountAccess(repo.name),
    ]) {
      const err = await rejection(call());
      assert.equal(err.code, "OPERATION_NOT_SUPPORTED");
      assert.equal(err.httpStatusCode, 501);
      assert.equal(err.retryable, false);
      assert.equal(err.rpcCode, -32000);
    }
  });

  it("a missing repository is RESOURCE_NOT_FOUND naming it", async () => {
    const err = await rejection(registry.getRepository(`${BINDING}/no-such-repository`));
    assert.equal(err.code, "RESOURCE_NOT_FOUND");
    assert.equal(err.httpStatusCode, 404);
    assert.equal(err.context?.["resource_id"], `${BINDING}/no-such-repository`);
  });

  it("an unknown binding is BINDING_NOT_CONFIGURED", async () => {
    const err = await rejection(client.artifactRegistry("no-such-binding").registryEndpoint());
    assert.equal(err.code, "BINDING_NOT_CONFIGURED");
    assert.equal(err.httpStatusCode, 400);
  });

  it("invalid params are INVALID_INPUT naming the field", async () => {
    const badPermission = await rejection(registry.generateCredentials(repo.name, "admin" as never));
    assert.equal(badPermission.code, "INVALID_INPUT");
    assert.equal(badPermission.rpcCode, -32602);
    assert.equal(badPermission.context?.["field_name"], "permissions");

    const missingField = await rejection(client.call("artifactRegistry.getRepository", { bindingName: BINDING } as never));
    assert.equal(missingField.code, "INVALID_INPUT");
    assert.equal(missingField.context?.["field_name"], "repoId");

    const wrongType = await rejection(registry.headBlob(repo.name, 42 as never));
    assert.equal(wrongType.code, "INVALID_INPUT");
    assert.equal(wrongType.context?.["field_name"], "digest");

    const negativeTtl = await rejection(registry.generateBlobDownloadUrl(repo.name, image.layer.digest, -1));
    assert.equal(negativeTtl.code, "INVALID_INPUT");
    assert.equal(negativeTtl.context?.["field_name"], "ttlSeconds");
  });

  it("an unknown method is rejected with -32601", async () => {
    const err = await rejection(client.call("artifactRegistry.noSuchMethod" as never, { bindingName: BINDING } as never));
    assert.equal(err.rpcCode, -32601);
    assert.equal(err.code, "OPERATION_NOT_SUPPORTED");
  });

  it("runs 100 concurrent calls on one connection, each answered with its own result", async () => {
    const names = Array.from({ length: 20 }, (_, i) => `concurrent-${i}`);
    const created = await Promise.all(names.map((name) => registry.createRepository(name)));
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 100; i++) {
      const target = created[i % created.length]!;
      switch (i % 5) {
        case 0:
          calls.push(registry.getRepository(target.name).then((r) => assert.equal(r.name, target.name)));
          break;
        case 1:
          calls.push(registry.headManifest(target.name, "latest").then((h) => assert.ok(h !== null)));
          break;
        case 2:
          calls.push(registry.generateCredentials(target.name, "pull").then((c) => assert.equal(typeof c.password, "string")));
          break;
        case 3:
          calls.push(registry.headBlob(repo.name, image.layer.digest).then((size) => assert.equal(size, image.layer.size)));
          break;
        default:
          calls.push(rejection(registry.getRepository(`${target.name}-missing`)).then((e) => assert.equal(e.code, "RESOURCE_NOT_FOUND")));
      }
    }
    await Promise.all(calls);
    await Promise.all(created.map((r) => registry.deleteRepository(r.name)));
  });

  it("deleteRepository resolves with nothing", async () => {
    const doomed = await registry.createRepository("ts-client-doomed");
    assert.equal(await registry.deleteRepository(doomed.name), undefined);
  });

  it("the usage example runs against it", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, ARTREG_URL: sidecar.url, ARTREG_BINDING: BINDING };
    delete env["ARTREG_RPC_TOKEN"];
    const { stdout } = await promisify(execFile)(process.execPath, [EXAMPLE], {
      env,
      timeout: 20_000,
    });
    assert.match(stdout, /created: .*example-app/);
    assert.match(stdout, /\(digest verified\)/);
    assert.match(stdout, /error: +RESOURCE_NOT_FOUND 404/);
  });

  it("fails fast while the server is down, and reconnects once it is back", async () => {
    const before = await registry.getRepository(repo.name);
    await sidecar.stop();
    const down = await rejection(registry.registryEndpoint());
    assert.equal(down.code, "REMOTE_SERVICE_UNAVAILABLE");
    assert.equal(down.retryable, true);
    assert.equal(client.connected, false);

    await sidecar.restart();
    const after = await registry.getRepository(repo.name); // the data directory survived the restart
    assert.deepEqual(after, before);
    assert.ok(client.connected);
    assert.equal(Buffer.from((await registry.getManifest(repo.name, image.digest)).manifest).compare(Buffer.from(image.manifest)), 0);
  });

  it("settles every call in flight when the server is killed, then reconnects", async () => {
    const calls = Array.from({ length: 200 }, () =>
      registry.headBlob(repo.name, image.layer.digest).then(
        (size) => assert.equal(size, image.layer.size),
        (err: unknown) => {
          assert.ok(err instanceof ArtregError);
          assert.equal(err.code, "REMOTE_SERVICE_UNAVAILABLE");
          return "dropped";
        },
      ),
    );
    await sidecar.kill();
    const outcomes = await Promise.all(calls); // none is left hanging
    assert.equal(outcomes.length, 200);
    assert.equal(client.connected, false);
    await sidecar.restart();
    assert.equal(await registry.headBlob(repo.name, image.layer.digest), image.layer.size);
  });
});

describe("artreg serve with ARTREG_RPC_TOKEN", { skip }, () => {
  const token = "ts-client-token-0123456789abcdef";
  let sidecar: Sidecar;

  before(async () => {
    sidecar = await Sidecar.start({ token });
  });
  after(async () => {
    await sidecar?.dispose();
  });

  it("accepts the right token", async () => {
    const client = connect({ url: sidecar.url, token });
    try {
      assert.equal(await client.artifactRegistry(BINDING).registryEndpoint(), `http://${sidecar.registry}`);
    } finally {
      await client.close();
    }
  });

  it("refuses a wrong or missing token with AUTHENTICATION_ERROR, revealing neither token", async () => {
    for (const attempt of ["not-the-token", undefined]) {
      const client = connect({ url: sidecar.url, token: attempt });
      try {
        for (const err of [await rejection(client.open()), await rejection(client.artifactRegistry(BINDING).registryEndpoint())]) {
          assert.equal(err.code, "AUTHENTICATION_ERROR");
          assert.equal(err.httpStatusCode, 401);
          const shown = JSON.stringify({ ...err.toJSON(), stack: err.stack });
          assert.ok(!shown.includes(token) && !shown.includes("not-the-token"));
        }
      } finally {
        await client.close();
      }
    }
    // refusals are logged once per client address per minute: both came from one address
    const refusals = () => sidecar.output.match(/refused a connection from .*: bad or missing token/g)?.length ?? 0;
    await until(() => refusals() >= 1, "the server to log the refused tokens");
    assert.equal(refusals(), 1, "refusals from one address are logged once a minute");
    assert.ok(!sidecar.output.includes(token), "the server's output shows the token");
    assert.ok(!sidecar.output.includes("not-the-token"), "the server's output shows the offered token");
  });
});
