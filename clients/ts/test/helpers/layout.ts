// Writes OCI image layouts (oci-layout, index.json, blobs/sha256/<hex>) with random layers, the way
// an image builder would, so pushes start from bytes the test chose.
import { createHash, randomFillSync } from "node:crypto";
import { closeSync, mkdirSync, openSync, renameSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";

import { OCI_MANIFEST, sha256 } from "./oci.js";

export const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
export const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar";

export interface Layout {
  dir: string;
  tag: string;
  manifest: Uint8Array;
  digest: string;
  /** Config and layer digests, config first. */
  blobs: string[];
  sizes: Record<string, number>;
}

function putBlob(dir: string, bytes: Uint8Array): string {
  const digest = sha256(bytes);
  writeFileSync(join(dir, "blobs", "sha256", digest.slice("sha256:".length)), bytes);
  return digest;
}

/** A layer of `size` random bytes written in 1 MiB pieces (never whole in memory). */
function putRandomLayer(dir: string, size: number): string {
  const tmp = join(dir, "blobs", "sha256", "layer.tmp");
  const hash = createHash("sha256");
  const fd = openSync(tmp, "w");
  const piece = Buffer.alloc(1 << 20);
  try {
    for (let left = size; left > 0; left -= piece.length) {
      const chunk = piece.subarray(0, Math.min(piece.length, left));
      randomFillSync(chunk);
      hash.update(chunk);
      writeSync(fd, chunk);
    }
  } finally {
    closeSync(fd);
  }
  const digest = `sha256:${hash.digest("hex")}`;
  renameSync(tmp, join(dir, "blobs", "sha256", digest.slice("sha256:".length)));
  return digest;
}

/** An OCI layout at `dir` holding one image tagged `tag`, with random layers of the given sizes. */
export function writeLayout(dir: string, tag: string, layerSizes: number[]): Layout {
  mkdirSync(join(dir, "blobs", "sha256"), { recursive: true });
  writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  const sizes: Record<string, number> = {};
  const layers = layerSizes.map((size) => {
    const digest = putRandomLayer(dir, size);
    sizes[digest] = size;
    return { mediaType: OCI_LAYER, digest, size };
  });
  const config = new TextEncoder().encode(
    JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: layers.map((l) => l.digest) }, config: {} }),
  );
  const configDigest = putBlob(dir, config);
  sizes[configDigest] = config.byteLength;
  const manifest = new TextEncoder().encode(
    JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, digest: configDigest, size: config.byteLength }, layers }, null, 2),
  );
  const digest = putBlob(dir, manifest);
  const index = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [{ mediaType: OCI_MANIFEST, digest, size: manifest.byteLength, annotations: { "org.opencontainers.image.ref.name": tag } }],
  };
  writeFileSync(join(dir, "index.json"), JSON.stringify(index));
  return { dir, tag, manifest, digest, blobs: [configDigest, ...layers.map((l) => l.digest)], sizes };
}
