// Starts a real `artreg serve` (the embedded registry and the JSON-RPC sidecar) on free ports with a
// temporary data directory, and stops it by its PID.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const READY = /^artreg: rpc=(\S+) registry=(\S+)$/m;
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;

/** The `artreg` executable: $ARTREG_BIN, else the repository's virtualenv. */
export function artregBin(): string {
  return process.env["ARTREG_BIN"] ?? resolve(PACKAGE_DIR, "../../.venv/bin/artreg");
}

/** Why the sidecar tests cannot run here, or undefined when they can. */
export function missingArtreg(): string | undefined {
  const bin = artregBin();
  return existsSync(bin) ? undefined : `${bin} not found (run \`make venv\` or set ARTREG_BIN)`;
}

export interface SidecarOptions {
  token?: string;
  rpcPort?: number;
  registryPort?: number;
  dataDir?: string;
  /** Extra `artreg serve` arguments, e.g. `["--call-timeout", "1"]`. */
  args?: string[];
  /** Extra environment, e.g. bindings (any `ALIEN_*_BINDING` replaces the default `artifacts`). */
  env?: Record<string, string>;
}

/** A running `artreg serve`. */
export class Sidecar {
  /** stdout and stderr so far, for diagnostics and for checking that no secret is logged. */
  output = "";

  private constructor(
    private child: ChildProcess,
    readonly url: string,
    readonly registry: string,
    readonly dataDir: string,
    private readonly options: SidecarOptions,
    private readonly ownsDataDir: boolean,
  ) {}

  static async start(options: SidecarOptions = {}): Promise<Sidecar> {
    const ownsDataDir = options.dataDir === undefined;
    const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "artreg-ts-"));
    const { child, url, registry, output } = await launch(dataDir, options);
    const sidecar = new Sidecar(child, url, registry, dataDir, options, ownsDataDir);
    sidecar.output = output;
    child.stdout?.on("data", (chunk: Buffer) => (sidecar.output += chunk.toString("utf8")));
    child.stderr?.on("data", (chunk: Buffer) => (sidecar.output += chunk.toString("utf8")));
    return sidecar;
  }

  get rpcPort(): number {
    return Number(new URL(this.url).port);
  }

  get registryPort(): number {
    return Number(this.registry.slice(this.registry.lastIndexOf(":") + 1));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Stops the process (SIGTERM, then SIGKILL after 10 s); the data directory is kept. */
  async stop(): Promise<void> {
    await terminate(this.child);
  }

  /** Kills the process at once (SIGKILL): no graceful shutdown. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((done) => child.once("exit", () => done()));
    child.kill("SIGKILL");
    await exited;
  }

  /** Starts the process again on the same ports and data directory. */
  async restart(): Promise<void> {
    await this.stop();
    const { child, output } = await launch(this.dataDir, {
      ...this.options,
      rpcPort: this.rpcPort,
      registryPort: this.registryPort,
    });
    this.child = child;
    this.output += output;
    child.stdout?.on("data", (chunk: Buffer) => (this.output += chunk.toString("utf8")));
    child.stderr?.on("data", (chunk: Buffer) => (this.output += chunk.toString("utf8")));
  }

  /** Stops the process and removes the data directory it created. */
  async dispose(): Promise<void> {
    await this.stop();
    if (this.ownsDataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}

const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

function sidecarEnv(token: string | undefined, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    // Bindings from the environment would replace the default `artifacts` binding.
    if (/^ALIEN_.+_BINDING$/.test(key) || key === "ARTREG_RPC_TOKEN" || key.startsWith("ARTREG_")) continue;
    env[key] = value;
  }
  if (token !== undefined) env["ARTREG_RPC_TOKEN"] = token;
  return { ...env, ...extra };
}

async function launch(
  dataDir: string,
  options: SidecarOptions,
): Promise<{ child: ChildProcess; url: string; registry: string; output: string }> {
  const args = [
    "serve",
    "--rpc-port",
    String(options.rpcPort ?? 0),
    "--registry-port",
    String(options.registryPort ?? 0),
    "--data-dir",
    dataDir,
    ...(options.args ?? []),
  ];
  const child = spawn(artregBin(), args, { env: sidecarEnv(options.token, options.env), stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  child.once("exit", () => running.delete(child));
  let output = "";
  try {
    const match = await new Promise<RegExpExecArray>((resolveReady, reject) => {
      const timer = setTimeout(() => reject(new Error(`artreg serve did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      const onData = (chunk: Buffer): void => {
        output += chunk.toString("utf8");
        const found = READY.exec(output);
        if (found !== null) {
          clearTimeout(timer);
          resolveReady(found);
        }
      };
      child.stdout?.on("data", onData);
      child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
      child.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`artreg serve exited (${code ?? signal}) before it was ready`));
      });
    });
    child.stdout?.removeAllListeners("data");
    child.stderr?.removeAllListeners("data");
    child.removeAllListeners("error");
    return { child, url: match[1] ?? "", registry: match[2] ?? "", output };
  } catch (err) {
    await terminate(child);
    throw new Error(`${(err as Error).message}\n--- output ---\n${output}`);
  }
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}
