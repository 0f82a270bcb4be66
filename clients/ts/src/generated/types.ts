/* eslint-disable */
/**
 * Generated from schemas/artreg.schema.json by scripts/generate.mjs (npm run generate).
 * DO NOT EDIT: change the Python wire types and run `make schemas`.
 */

/**
 * Cross-account access, tagged by `type`; decoding also accepts the `platform` tag.
 *
 * This interface was referenced by `Artreg`'s JSON-Schema
 * via the `definition` "CrossAccountAccess".
 */
export type CrossAccountAccess = AwsCrossAccountAccess | GcpCrossAccountAccess;
/**
 * Compute services that may be granted pull access across accounts.
 *
 * This interface was referenced by `Artreg`'s JSON-Schema
 * via the `definition` "ComputeServiceType".
 */
export type ComputeServiceType = "worker";
/**
 * How credentials are presented: ``basic`` (username + password) or ``bearer`` (token).
 *
 * This interface was referenced by `Artreg`'s JSON-Schema
 * via the `definition` "RegistryAuthMethod".
 */
export type RegistryAuthMethod = "basic" | "bearer";
/**
 * What generated credentials may do.
 *
 * This interface was referenced by `Artreg`'s JSON-Schema
 * via the `definition` "ArtifactRegistryPermissions".
 */
export type ArtifactRegistryPermissions = "pull" | "push-pull";

/**
 * This interface was referenced by `Artreg`'s JSON-Schema
 * via the `definition` "AddCrossAccountAccessParams".
 */
export interface AddCrossAccountAccessParams {
  bindingName: string;
  repoId: string;
  access: CrossAccountAccess;
}
/**
 * Pull access for other AWS accounts, their roles, and Lambda in the given regions.
 *
 * This interface was referenced by `Artreg`'s JSON-Schema
 * via the `definition` "AwsCrossAccountAccess".
 */
export interface AwsCrossAccountAccess {
  type: "aws";
  accountIds: string[];
  regions: string[];
  roleArns: string[];
  allowedServiceTypes: ComputeServiceType[];
}
/**
 * Pull access for Cloud Run in other projects and for service accounts.
 *
 * This interface was referenced by `Artreg`'s JSON-Schema
 * via the `definition` "GcpCrossAccountAccess".
 */
export interface GcpCrossAccountAccess {
  type: "gcp";
  projectNumbers: string[];
  serviceAccountEmails: string[];
  allowedServiceTypes: ComputeServiceType[];
}
/**
 * Short-lived registry credentials. ``repr()`` and ``str()`` never show the password.
 *
 * This interface was referenced by `Artreg`'s JSON-Schema
 * via the `definition` "ArtifactRegistryCredentials".
 */
export interface ArtifactRegistryCredentials {
  authMethod: RegistryAuthMethod;
  username: string;
  password: string;
  /**
   * RFC 3339 timestamp in UTC, written with a +00:00 offset
   */
  expiresAt?: string | null;
}
/**
 * Params that name only a binding.
 *
 * This interface was referenced by `Artreg`'s JSON-Schema
 * via the `definition` "BindingParams".
 */
export interface BindingParams {
  bindingName: string;
}
/**
 * This interface was referenced by `Artreg`'s JSON-Schema
 * via the `definition` "BlobDownloadUrlParams".
 */
export interface BlobDownloadUrlParams {
  bindingName: string;
  repoName: string;
  digest: string;
  ttlSeconds: number;
}
/**
 * This interface was referenced by `Artreg`'s JSON-Schema
 * via the `definition` "BlobParams".
 */
export interface BlobParams {
  bindingName: string;
  repoName: string;
  digest: string;
}
/**
 * This interface was referenced by `Artreg`'s JSON-Schema
 * via the `definition` "CreateRepositoryParams".
 */
export interface CreateRepositoryParams {
  bindingName: string;
  repoName: string;
}
/**
 * The cross-account access currently granted on a repository.
 *
 * This interface was referenced by `Artreg`'s JSON-Schema
 * via the `definition` "CrossAccountPermissions".
 */
export interface CrossAccountPermissions {
  access: CrossAccountAccess;
  /**
   * RFC 3339 timestamp in UTC, written with a +00:00 offset
   */
  lastUpdated?: string | null;
}
/**
 * The serialized shape of every artreg error; ``context`` keys are snake_case, absent
 *     optional keys are omitted, ``source`` is the wrapped cause in the same shape.
 *
 * This interface was referenced by `Artreg`'s JSON-Schema
 * via the `definition` "ErrorData".
 */
export interface ErrorData {
  code: string;
  message: string;
  context?: {
    [k: string]: unknown;
  } | null;
  hint?: string | null;
  retryable: boolean;
  internal: boolean;
  httpStatusCode?: number | null;
  source?: ErrorData | null;
}
/**
 * This interface was referenced by `Artreg`'s JSON-Schema
 * via the `definition` "GenerateCredentialsParams".
 */
export interface GenerateCredentialsParams {
  bindingName: string;
  repoId: string;
  permissions: ArtifactRegistryPermissions;
  ttlSeconds?: number | null;
}
/**
 * What a HEAD of a manifest tells: its media type and digest.
 *
 * This interface was referenced by `Artreg`'s JSON-Schema
 * via the `definition` "ManifestHead".
 */
export interface ManifestHead {
  contentType: string;
  digest: string;
}
/**
 * This interface was referenced by `Artreg`'s JSON-Schema
 * via the `definition` "ManifestParams".
 */
export interface ManifestParams {
  bindingName: string;
  repoName: string;
  reference: string;
}
/**
 * A manifest as stored: its exact bytes (base64 in JSON) and its media type.
 *
 * This interface was referenced by `Artreg`'s JSON-Schema
 * via the `definition` "ManifestResponse".
 */
export interface ManifestResponse {
  manifest: string;
  contentType: string;
}
/**
 * This interface was referenced by `Artreg`'s JSON-Schema
 * via the `definition` "RemoveCrossAccountAccessParams".
 */
export interface RemoveCrossAccountAccessParams {
  bindingName: string;
  repoId: string;
  access: CrossAccountAccess;
}
/**
 * This interface was referenced by `Artreg`'s JSON-Schema
 * via the `definition` "RepoIdParams".
 */
export interface RepoIdParams {
  bindingName: string;
  repoId: string;
}
/**
 * A repository. ``name`` is the routable name: pass it back as ``repo_id`` unchanged.
 *
 * This interface was referenced by `Artreg`'s JSON-Schema
 * via the `definition` "RepositoryResponse".
 */
export interface RepositoryResponse {
  name: string;
  uri?: string | null;
  /**
   * RFC 3339 timestamp in UTC, written with a +00:00 offset
   */
  createdAt?: string | null;
}
