import type { ArtregClient } from "./client.js";
import type { ArtregMethodName, ParamsOf, ResultOf } from "./generated/methods.js";
import type {
  ArtifactRegistryCredentials,
  ArtifactRegistryPermissions,
  BlobUploadStatus,
  CrossAccountAccess,
  CrossAccountPermissions,
  ManifestHead,
  ManifestResponse,
  RepositoryResponse,
} from "./generated/types.js";

/** A manifest as stored: its exact bytes and its media type. */
export interface Manifest {
  manifest: Uint8Array;
  contentType: string;
}

function decodeManifest(response: ManifestResponse): Manifest {
  const bytes = Buffer.from(response.manifest, "base64");
  return { manifest: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), contentType: response.contentType };
}

function nothing(): void {}

/** The largest content `uploadBlob` and `putManifest` send inline (bytes, before base64). */
export const MAX_INLINE_BYTES = 512 * 1024;

function base64(data: Uint8Array | string): string {
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return bytes.toString("base64");
}

/**
 * One artifact-registry binding on the sidecar, with the methods of alien's ArtifactRegistry API.
 * Repository ids are the routable names `createRepository` returns; pass them back unchanged.
 */
export class ArtifactRegistry {
  readonly #client: ArtregClient;
  /** The binding's name on the sidecar. */
  readonly bindingName: string;

  constructor(client: ArtregClient, bindingName: string) {
    this.#client = client;
    this.bindingName = bindingName;
  }

  #call<M extends ArtregMethodName>(method: M, params: Omit<ParamsOf<M>, "bindingName">): Promise<ResultOf<M>> {
    return this.#client.call(method, { ...params, bindingName: this.bindingName } as ParamsOf<M>);
  }

  /** Creates a repository from a logical name; the result's `name` is the routable name. */
  createRepository(name: string): Promise<RepositoryResponse> {
    return this.#call("artifactRegistry.createRepository", { repoName: name });
  }

  /** Describes a repository; RESOURCE_NOT_FOUND when it does not exist. */
  getRepository(repoId: string): Promise<RepositoryResponse> {
    return this.#call("artifactRegistry.getRepository", { repoId });
  }

  /** Deletes a repository and its images. */
  deleteRepository(repoId: string): Promise<void> {
    return this.#call("artifactRegistry.deleteRepository", { repoId }).then(nothing);
  }

  /** Short-lived credentials to pull, or push and pull; `ttlSeconds` omitted means the platform default. */
  generateCredentials(repoId: string, permissions: ArtifactRegistryPermissions, ttlSeconds?: number): Promise<ArtifactRegistryCredentials> {
    return this.#call("artifactRegistry.generateCredentials", { repoId, permissions, ttlSeconds });
  }

  /** Grants other AWS accounts or GCP projects pull access (AWS and GCP only). */
  addCrossAccountAccess(repoId: string, access: CrossAccountAccess): Promise<void> {
    return this.#call("artifactRegistry.addCrossAccountAccess", { repoId, access }).then(nothing);
  }

  /** Revokes previously granted cross-account access. */
  removeCrossAccountAccess(repoId: string, access: CrossAccountAccess): Promise<void> {
    return this.#call("artifactRegistry.removeCrossAccountAccess", { repoId, access }).then(nothing);
  }

  /** The cross-account access currently granted. */
  getCrossAccountAccess(repoId: string): Promise<CrossAccountPermissions> {
    return this.#call("artifactRegistry.getCrossAccountAccess", { repoId });
  }

  /** Cleans up anything `generateCredentials` created (a no-op on most providers). */
  cleanupCredentials(repoId: string): Promise<void> {
    return this.#call("artifactRegistry.cleanupCredentials", { repoId }).then(nothing);
  }

  /** The upstream registry's base URL, with its scheme. */
  registryEndpoint(): Promise<string> {
    return this.#call("artifactRegistry.registryEndpoint", {});
  }

  /** The OCI path prefix of the binding's repositories. */
  upstreamRepositoryPrefix(): Promise<string> {
    return this.#call("artifactRegistry.upstreamRepositoryPrefix", {});
  }

  /** A manifest's exact bytes and content type, by tag or digest. */
  getManifest(repo: string, reference: string): Promise<Manifest> {
    return this.#call("artifactRegistry.getManifest", { repoName: repo, reference }).then(decodeManifest);
  }

  /** A manifest's content type and digest, or null when it does not exist. */
  headManifest(repo: string, reference: string): Promise<ManifestHead | null> {
    return this.#call("artifactRegistry.headManifest", { repoName: repo, reference });
  }

  /** A blob's size in bytes, or null when it does not exist. */
  headBlob(repo: string, digest: string): Promise<number | null> {
    return this.#call("artifactRegistry.headBlob", { repoName: repo, digest });
  }

  /**
   * Uploads one blob by digest (seed 003's PushTarget `upload_blob`): `"uploaded"`, or `"exists"`
   * when the repository already has it. At most {@link MAX_INLINE_BYTES}: write larger content into
   * an OCI layout and use `client.images.pushLayout`, which streams it from disk.
   */
  uploadBlob(repo: string, digest: string, data: Uint8Array): Promise<BlobUploadStatus> {
    return this.#call("artifactRegistry.uploadBlob", { repoName: repo, digest, data: base64(data) });
  }

  /**
   * PUTs a manifest's exact bytes (a string is sent as UTF-8) at a tag or digest with the given
   * content type (PushTarget `put_manifest`); resolves to the manifest's digest.
   */
  putManifest(repo: string, reference: string, manifest: Uint8Array | string, contentType: string): Promise<string> {
    return this.#call("artifactRegistry.putManifest", { repoName: repo, reference, manifest: base64(manifest), contentType });
  }

  /** A pre-signed URL that downloads the blob directly, or null when the provider has none. */
  generateBlobDownloadUrl(repo: string, digest: string, ttlSeconds: number): Promise<string | null> {
    return this.#call("artifactRegistry.generateBlobDownloadUrl", { repoName: repo, digest, ttlSeconds });
  }
}
