// A complete tour of @artreg/client against `artreg serve` (the embedded registry and the sidecar,
// serving a `local` binding named `artifacts`). Run `artreg serve`, then:
//
//   ARTREG_URL=ws://127.0.0.1:7450 node examples/usage.js
//
// Set ARTREG_RPC_TOKEN when the sidecar requires a token.
import { createHash } from "node:crypto";

import { ArtregError, connect, type CrossAccountAccess } from "@artreg/client";

async function main(): Promise<void> {
  const client = connect({
    url: process.env["ARTREG_URL"] ?? "ws://127.0.0.1:7450",
    token: process.env["ARTREG_RPC_TOKEN"],
    timeoutMs: 10_000,
  });
  try {
    await client.open(); // optional: fail here if the sidecar is unreachable or refuses the token
    const registry = client.artifactRegistry(process.env["ARTREG_BINDING"] ?? "artifacts");

    // Where images go.
    console.log("endpoint:", await registry.registryEndpoint());
    console.log("prefix:  ", await registry.upstreamRepositoryPrefix());

    // Repositories: `name` is the routable name; pass it back unchanged.
    const repo = await registry.createRepository("example-app");
    console.log("created: ", repo.name, repo.uri ?? "(no uri yet)");
    const again = await registry.getRepository(repo.name);
    console.log("fetched: ", again.name, again.createdAt ?? "");

    // Credentials for `docker login` / an OCI client.
    const creds = await registry.generateCredentials(repo.name, "push-pull", 900);
    console.log("creds:   ", creds.authMethod, creds.username === "" ? "(no username)" : creds.username, creds.expiresAt ?? "(no expiry)");
    await registry.cleanupCredentials(repo.name);

    // Manifests and blobs, read through the binding's own credentials.
    const head = await registry.headManifest(repo.name, "latest");
    if (head !== null) {
      const { manifest, contentType } = await registry.getManifest(repo.name, head.digest);
      const digest = `sha256:${createHash("sha256").update(manifest).digest("hex")}`;
      console.log("manifest:", contentType, manifest.byteLength, "bytes", digest === head.digest ? "(digest verified)" : "(DIGEST MISMATCH)");
      const parsed = JSON.parse(new TextDecoder().decode(manifest)) as { config?: { digest: string } };
      if (parsed.config !== undefined) {
        console.log("config:  ", await registry.headBlob(repo.name, parsed.config.digest), "bytes");
        console.log("url:     ", (await registry.generateBlobDownloadUrl(repo.name, parsed.config.digest, 300)) ?? "(served by the registry itself)");
      }
    }

    // Cross-account access: AWS and GCP only; other providers say OPERATION_NOT_SUPPORTED.
    const access: CrossAccountAccess = {
      type: "aws",
      accountIds: ["123456789012"],
      regions: ["us-east-1"],
      roleArns: [],
      allowedServiceTypes: ["worker"],
    };
    try {
      await registry.addCrossAccountAccess(repo.name, access);
      const granted = await registry.getCrossAccountAccess(repo.name);
      if (granted.access.type === "aws") console.log("accounts:", granted.access.accountIds.join(", "));
      await registry.removeCrossAccountAccess(repo.name, access);
    } catch (err) {
      if (!(err instanceof ArtregError) || err.code !== "OPERATION_NOT_SUPPORTED") throw err;
      console.log("cross-account access:", err.message);
    }

    // Errors carry artreg's code, flags and context.
    try {
      await registry.getRepository("artifacts/no-such-repository");
    } catch (err) {
      if (!(err instanceof ArtregError)) throw err;
      console.log("error:   ", err.code, err.httpStatusCode, JSON.stringify(err.context));
    }

    await registry.deleteRepository(repo.name);
    console.log("deleted: ", repo.name);
  } finally {
    await client.close();
  }
}

main().catch((err: unknown) => {
  console.error(String(err));
  process.exitCode = 1;
});
