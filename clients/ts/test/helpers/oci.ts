// Pushes a small image straight to the registry over the OCI distribution API (fetch), independently
// of artreg, so the client's reads can be checked against bytes the test chose.
import { createHash } from "node:crypto";

export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

export function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

async function expectStatus(response: Response, status: number, what: string): Promise<void> {
  if (response.status !== status) {
    throw new Error(`${what}: HTTP ${response.status} ${await response.text()}`);
  }
}

/** Uploads one blob (a monolithic POST-then-PUT upload); returns its digest. */
export async function pushBlob(registry: string, repo: string, bytes: Uint8Array): Promise<string> {
  const digest = sha256(bytes);
  const start = await fetch(`http://${registry}/v2/${repo}/blobs/uploads/`, { method: "POST" });
  await expectStatus(start, 202, `start upload to ${repo}`);
  const location = new URL(start.headers.get("location") ?? "", `http://${registry}`);
  location.searchParams.set("digest", digest);
  const put = await fetch(location, {
    method: "PUT",
    headers: { "content-type": "application/octet-stream" },
    body: bytes,
  });
  await expectStatus(put, 201, `upload ${digest}`);
  return digest;
}

export interface PushedImage {
  manifest: Uint8Array;
  digest: string;
  config: { digest: string; size: number };
  layer: { digest: string; size: number };
}

/**
 * Pushes a config blob, one layer and a manifest under `tag`. The manifest is written with unusual
 * whitespace so that only a byte-exact read gives back its digest.
 */
export async function pushImage(registry: string, repo: string, tag: string): Promise<PushedImage> {
  const encoder = new TextEncoder();
  const config = encoder.encode(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] }, config: {} }));
  const layer = Uint8Array.from({ length: 4096 + 17 }, (_, i) => (i * 31 + 7) % 256);
  const configDigest = await pushBlob(registry, repo, config);
  const layerDigest = await pushBlob(registry, repo, layer);
  const body = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: config.byteLength },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: layerDigest, size: layer.byteLength }],
    annotations: { "org.example.test": "ts-client ✓" },
  };
  const manifest = encoder.encode(JSON.stringify(body, null, 3) + "\n\n");
  const put = await fetch(`http://${registry}/v2/${repo}/manifests/${tag}`, {
    method: "PUT",
    headers: { "content-type": OCI_MANIFEST },
    body: manifest,
  });
  await expectStatus(put, 201, `put manifest ${repo}:${tag}`);
  return {
    manifest,
    digest: sha256(manifest),
    config: { digest: configDigest, size: config.byteLength },
    layer: { digest: layerDigest, size: layer.byteLength },
  };
}
