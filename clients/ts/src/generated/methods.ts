/* eslint-disable */
/**
 * Generated from schemas/openrpc.json by scripts/generate.mjs (npm run generate).
 * DO NOT EDIT: change the Python wire types and run `make schemas`.
 */

import type { AddCrossAccountAccessParams, ArtifactRegistryCredentials, BindingParams, BlobDownloadUrlParams, BlobParams, CreateRepositoryParams, CrossAccountPermissions, GenerateCredentialsParams, ManifestHead, ManifestParams, ManifestResponse, RemoveCrossAccountAccessParams, RepoIdParams, RepositoryResponse } from "./types.js";

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
};
