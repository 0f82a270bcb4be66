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
 * What ``uploadBlob`` did: uploaded the bytes, or found the blob already there.
 *
 * This interface was referenced by `Artreg`'s JSON-Schema
 * via the `definition` "BlobUploadStatus".
 */
export type BlobUploadStatus = "exists" | "uploaded";
/**
 * Where one blob of a transfer stands.
 *
 * This interface was referenced by `Artreg`'s JSON-Schema
 * via the `definition` "TransferStatus".
 */
export type TransferStatus = "complete" | "exists" | "mounted" | "transferring";

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
 * optional keys are omitted, ``source`` is the wrapped cause in the same shape.
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
 * Copy ``src`` to ``dst`` (the destination tag defaults to the source's). With ``all_tags``,
 * ``src`` and ``dst`` name repositories and every tag of ``src`` is copied.
 *
 * This interface was referenced by `Artreg`'s JSON-Schema
 * via the `definition` "ImageCopyParams".
 */
export interface ImageCopyParams {
  /**
   * host[:port]/repository[:tag][@digest]
   */
  src: string;
  /**
   * host[:port]/repository[:tag][@digest]
   */
  dst: string;
  allTags?: boolean;
  /**
   * Of a multi-platform index, only these os/arch[/variant] (default: all)
   */
  platforms?: string[] | null;
  jobs?: number | null;
}
/**
 * What ``image.copy`` moved: one entry, or one per tag with ``allTags``.
 *
 * This interface was referenced by `Artreg`'s JSON-Schema
 * via the `definition` "ImageCopyResult".
 */
export interface ImageCopyResult {
  images: ImageTransferResult[];
}
/**
 * One image or index moved: its root manifest's digest and media type, where it went, and
 * how many blobs and bytes were moved (``skipped``: already there; ``mounted``: linked from
 * another repository of the same registry).
 *
 * This interface was referenced by `Artreg`'s JSON-Schema
 * via the `definition` "ImageTransferResult".
 */
export interface ImageTransferResult {
  source: string;
  destination: string;
  digest: string;
  mediaType: string;
  blobs: number;
  bytes: number;
  skipped: number;
  mounted: number;
}
/**
 * Pull ``ref`` into the OCI layout ``dir`` (created when missing), tagged ``tag`` there
 * (default: ``ref``'s tag).
 *
 * This interface was referenced by `Artreg`'s JSON-Schema
 * via the `definition` "ImagePullLayoutParams".
 */
export interface ImagePullLayoutParams {
  /**
   * host[:port]/repository[:tag][@digest]
   */
  ref: string;
  /**
   * An absolute path on the sidecar's file system (not the caller's)
   */
  dir: string;
  tag?: string | null;
  /**
   * Of a multi-platform index, only these os/arch[/variant] (default: all)
   */
  platforms?: string[] | null;
  jobs?: number | null;
}
/**
 * Push the image or index of the OCI layout ``dir`` to ``ref`` (tag default ``latest``).
 * ``source_tag`` picks it in the layout (default: ``ref``'s tag when the layout has it, else
 * the layout's only image).
 *
 * This interface was referenced by `Artreg`'s JSON-Schema
 * via the `definition` "ImagePushLayoutParams".
 */
export interface ImagePushLayoutParams {
  /**
   * An absolute path on the sidecar's file system (not the caller's)
   */
  dir: string;
  /**
   * host[:port]/repository[:tag][@digest]
   */
  ref: string;
  sourceTag?: string | null;
  /**
   * Of a multi-platform index, only these os/arch[/variant] (default: all)
   */
  platforms?: string[] | null;
  jobs?: number | null;
}
/**
 * Params that name only an image or repository reference.
 *
 * This interface was referenced by `Artreg`'s JSON-Schema
 * via the `definition` "ImageRefParams".
 */
export interface ImageRefParams {
  /**
   * host[:port]/repository[:tag][@digest]
   */
  ref: string;
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
 * PUT ``manifest`` (base64 in JSON, at most 512 KiB) verbatim at ``reference`` (a tag or
 * digest) with ``Content-Type: content_type``.
 *
 * This interface was referenced by `Artreg`'s JSON-Schema
 * via the `definition` "PutManifestParams".
 */
export interface PutManifestParams {
  bindingName: string;
  repoName: string;
  reference: string;
  /**
   * The manifest's exact bytes, base64; at most 512 KiB
   */
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
/**
 * The params of a ``$/cancelRequest`` notification: stop the call whose request id is ``id``.
 *
 * This interface was referenced by `Artreg`'s JSON-Schema
 * via the `definition` "RequestCancel".
 */
export interface RequestCancel {
  id: number | string;
}
/**
 * The params of a ``$/progress`` notification: progress of the call ``id`` (the request's
 * id), ``seq`` counting up from 1 per call. One blob's ``done`` of ``total`` bytes to
 * ``target``; ``bytes_done``/``bytes_total`` and ``blobs_done``/``blobs_total`` for the call.
 *
 * This interface was referenced by `Artreg`'s JSON-Schema
 * via the `definition` "TransferProgress".
 */
export interface TransferProgress {
  id: number | string;
  seq: number;
  target: string;
  digest: string;
  status: TransferStatus;
  done: number;
  total: number | null;
  bytesDone: number;
  bytesTotal: number;
  blobsDone: number;
  blobsTotal: number;
}
/**
 * Upload ``data`` (base64 in JSON, at most 512 KiB) as the blob ``digest``.
 *
 * This interface was referenced by `Artreg`'s JSON-Schema
 * via the `definition` "UploadBlobParams".
 */
export interface UploadBlobParams {
  bindingName: string;
  repoName: string;
  digest: string;
  /**
   * The blob's bytes, base64; at most 512 KiB
   */
  data: string;
}
