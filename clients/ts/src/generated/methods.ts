/* eslint-disable */
/**
 * Generated from schemas/openrpc.json by scripts/generate.mjs (npm run generate).
 * DO NOT EDIT: change the Python wire types and run `make schemas`.
 */

import type { AddCrossAccountAccessParams, ArtifactRegistryCredentials, BindingParams, BlobDownloadUrlParams, BlobParams, BlobUploadStatus, CreateRepositoryParams, CrossAccountPermissions, GenerateCredentialsParams, ImageCopyParams, ImageCopyResult, ImagePullLayoutParams, ImagePushLayoutParams, ImageRefParams, ImageTransferResult, ManifestHead, ManifestParams, ManifestResponse, PutManifestParams, RemoveCrossAccountAccessParams, RepoIdParams, RepositoryResponse, UploadBlobParams } from "./types.js";

/** The OpenRPC document's version of the sidecar API. */
export const API_VERSION = "0.1.0";

/** Every sidecar method: its by-name params type and its result type. */
export interface ArtregMethods {
  /** Create a repository from a logical name; the result's name is the routable name. */
  "artifactRegistry.createRepository": { params: CreateRepositoryParams; result: RepositoryResponse };
  /** Describe a repository by its routable name. */
  "artifactRegistry.getRepository": { params: RepoIdParams; result: RepositoryResponse };
  /** Delete a repository and its images (never the parent registry). */
  "artifactRegistry.deleteRepository": { params: RepoIdParams; result: null };
  /** Grant other accounts or projects pull access, merged with what is granted. */
  "artifactRegistry.addCrossAccountAccess": { params: AddCrossAccountAccessParams; result: null };
  /** Revoke cross-account access. */
  "artifactRegistry.removeCrossAccountAccess": { params: RemoveCrossAccountAccessParams; result: null };
  /** The cross-account access currently granted. */
  "artifactRegistry.getCrossAccountAccess": { params: RepoIdParams; result: CrossAccountPermissions };
  /** Short-lived credentials to pull, or push and pull, a repository. */
  "artifactRegistry.generateCredentials": { params: GenerateCredentialsParams; result: ArtifactRegistryCredentials };
  /** Clean up anything generateCredentials created (a no-op on most providers). */
  "artifactRegistry.cleanupCredentials": { params: RepoIdParams; result: null };
  /** The upstream registry's base URL with its scheme. */
  "artifactRegistry.registryEndpoint": { params: BindingParams; result: string };
  /** The OCI path prefix of the binding's repositories. */
  "artifactRegistry.upstreamRepositoryPrefix": { params: BindingParams; result: string };
  /** A manifest's exact bytes (base64) and content type, by tag or digest. */
  "artifactRegistry.getManifest": { params: ManifestParams; result: ManifestResponse };
  /** A manifest's content type and digest, or null when it does not exist. */
  "artifactRegistry.headManifest": { params: ManifestParams; result: ManifestHead | null };
  /** A blob's size in bytes, or null when it does not exist. */
  "artifactRegistry.headBlob": { params: BlobParams; result: number | null };
  /** A pre-signed URL that downloads a blob directly, or null when unsupported. */
  "artifactRegistry.generateBlobDownloadUrl": { params: BlobDownloadUrlParams; result: string | null };
  /** Upload one blob by digest (data base64, at most 512 KiB, larger content through image.pushLayout); skipped when present. */
  "artifactRegistry.uploadBlob": { params: UploadBlobParams; result: BlobUploadStatus };
  /** PUT a manifest's exact bytes at a tag or digest (base64, at most 512 KiB, larger content through image.pushLayout); returns its digest. */
  "artifactRegistry.putManifest": { params: PutManifestParams; result: string };
  /** Copy an image or index between repositories or registries (every tag with allTags). */
  "image.copy": { params: ImageCopyParams; result: ImageCopyResult };
  /** Push an image or index from an OCI layout directory (an absolute path on the sidecar). */
  "image.pushLayout": { params: ImagePushLayoutParams; result: ImageTransferResult };
  /** Pull an image or index into an OCI layout directory (an absolute path on the sidecar). */
  "image.pullLayout": { params: ImagePullLayoutParams; result: ImageTransferResult };
  /** Every tag of a repository (host/repository). */
  "image.listTags": { params: ImageRefParams; result: string[] };
  /** The manifest digest a reference resolves to. */
  "image.digest": { params: ImageRefParams; result: string };
}

/** A sidecar method's name. */
export type ArtregMethodName = keyof ArtregMethods;

/** The params interface of a method. */
export type ParamsOf<M extends ArtregMethodName> = ArtregMethods[M]["params"];

/** The result type of a method. */
export type ResultOf<M extends ArtregMethodName> = ArtregMethods[M]["result"];

/** Each method's required and optional param names, in the OpenRPC document's order. */
export const METHOD_PARAMS: {
  readonly [M in ArtregMethodName]: { readonly required: readonly string[]; readonly optional: readonly string[] };
} = {
  "artifactRegistry.createRepository": { required: ["bindingName", "repoName"], optional: [] },
  "artifactRegistry.getRepository": { required: ["bindingName", "repoId"], optional: [] },
  "artifactRegistry.deleteRepository": { required: ["bindingName", "repoId"], optional: [] },
  "artifactRegistry.addCrossAccountAccess": { required: ["bindingName", "repoId", "access"], optional: [] },
  "artifactRegistry.removeCrossAccountAccess": { required: ["bindingName", "repoId", "access"], optional: [] },
  "artifactRegistry.getCrossAccountAccess": { required: ["bindingName", "repoId"], optional: [] },
  "artifactRegistry.generateCredentials": { required: ["bindingName", "repoId", "permissions"], optional: ["ttlSeconds"] },
  "artifactRegistry.cleanupCredentials": { required: ["bindingName", "repoId"], optional: [] },
  "artifactRegistry.registryEndpoint": { required: ["bindingName"], optional: [] },
  "artifactRegistry.upstreamRepositoryPrefix": { required: ["bindingName"], optional: [] },
  "artifactRegistry.getManifest": { required: ["bindingName", "repoName", "reference"], optional: [] },
  "artifactRegistry.headManifest": { required: ["bindingName", "repoName", "reference"], optional: [] },
  "artifactRegistry.headBlob": { required: ["bindingName", "repoName", "digest"], optional: [] },
  "artifactRegistry.generateBlobDownloadUrl": { required: ["bindingName", "repoName", "digest", "ttlSeconds"], optional: [] },
  "artifactRegistry.uploadBlob": { required: ["bindingName", "repoName", "digest", "data"], optional: [] },
  "artifactRegistry.putManifest": { required: ["bindingName", "repoName", "reference", "manifest", "contentType"], optional: [] },
  "image.copy": { required: ["src", "dst"], optional: ["allTags", "platforms", "jobs"] },
  "image.pushLayout": { required: ["dir", "ref"], optional: ["sourceTag", "platforms", "jobs"] },
  "image.pullLayout": { required: ["ref", "dir"], optional: ["tag", "platforms", "jobs"] },
  "image.listTags": { required: ["ref"], optional: [] },
  "image.digest": { required: ["ref"], optional: [] },
};
