import type { ArtregClient, CallOptions } from "./client.js";
import type { ImageCopyResult, ImageTransferResult } from "./generated/types.js";

/** Options of a transfer: progress, cancellation, time limit, and which blobs move how. */
export interface TransferOptions extends CallOptions {
  /** Of a multi-platform index, only these platforms (`os/arch[/variant]`); default: all. */
  platforms?: string[] | undefined;
  /** Blobs transferred in parallel (1–64, default 4). */
  jobs?: number | undefined;
}

/** Options of {@link Images.copy}. */
export interface CopyOptions extends TransferOptions {
  /** `src` and `dst` name repositories (`host/repo`): copy every tag of `src`. */
  allTags?: boolean | undefined;
}

/** Options of {@link Images.pushLayout}. */
export interface PushLayoutOptions extends TransferOptions {
  /** The image in the layout, by ref name or digest (default: `ref`'s tag when the layout has it, else its only image). */
  sourceTag?: string | undefined;
}

/** Options of {@link Images.pullLayout}. */
export interface PullLayoutOptions extends TransferOptions {
  /** The ref name in the layout (default: `ref`'s tag). */
  tag?: string | undefined;
}

function callOptions(options: CallOptions | undefined): CallOptions {
  return { timeoutMs: options?.timeoutMs, signal: options?.signal, onProgress: options?.onProgress };
}

/**
 * Image operations the sidecar runs: references are `host[:port]/repository[:tag][@digest]`, and
 * each host gets the credentials of the binding serving it (else Docker's configuration on the
 * sidecar's machine, else anonymous). Directories are **absolute paths on the sidecar's file
 * system**, not the caller's; relative paths are refused.
 */
export class Images {
  readonly #client: ArtregClient;

  constructor(client: ArtregClient) {
    this.#client = client;
  }

  /** Copies an image or index (tag default: the source's); with `allTags`, every tag of a repository. */
  copy(src: string, dst: string, options?: CopyOptions): Promise<ImageCopyResult> {
    return this.#client.call(
      "image.copy",
      { src, dst, allTags: options?.allTags, platforms: options?.platforms, jobs: options?.jobs },
      callOptions(options),
    );
  }

  /** Pushes the image or index of the OCI layout `dir` (absolute, on the sidecar) to `ref` (tag default `latest`). */
  pushLayout(dir: string, ref: string, options?: PushLayoutOptions): Promise<ImageTransferResult> {
    return this.#client.call(
      "image.pushLayout",
      { dir, ref, sourceTag: options?.sourceTag, platforms: options?.platforms, jobs: options?.jobs },
      callOptions(options),
    );
  }

  /** Pulls `ref` into the OCI layout `dir` (absolute, on the sidecar; created when missing). */
  pullLayout(ref: string, dir: string, options?: PullLayoutOptions): Promise<ImageTransferResult> {
    return this.#client.call(
      "image.pullLayout",
      { ref, dir, tag: options?.tag, platforms: options?.platforms, jobs: options?.jobs },
      callOptions(options),
    );
  }

  /** Every tag of the repository `host/repository`, sorted. */
  listTags(ref: string, options?: CallOptions): Promise<string[]> {
    return this.#client.call("image.listTags", { ref }, callOptions(options));
  }

  /** The manifest digest `ref` resolves to (tag default `latest`). */
  digest(ref: string, options?: CallOptions): Promise<string> {
    return this.#client.call("image.digest", { ref }, callOptions(options));
  }
}
