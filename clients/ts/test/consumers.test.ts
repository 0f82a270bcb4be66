// The package as a user installs it: `npm pack`, then `npm install <tarball>` in a fresh project,
// used from an ES module (`import`), a CommonJS script (`require`), and a TypeScript program
// compiled to CommonJS with both supported compilers (TypeScript 7 and 5.9) and the tsconfig the
// docs recommend. Each consumer talks to a real `artreg serve`.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";

import { Sidecar, missingArtreg } from "./helpers/sidecar.js";

const run = promisify(execFile);
const IN_CI = ["1", "true", "yes"].includes((process.env["CI"] ?? "").toLowerCase());
const missing = missingArtreg();
if (missing !== undefined && IN_CI) throw new Error(`the consumer tests need artreg: ${missing}`);
const skip = missing === undefined ? false : `the consumer tests need artreg: ${missing}`;

const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const COMPILERS = {
  "7": join(PACKAGE_DIR, "node_modules", "typescript", "bin", "tsc"),
  "5.9": join(PACKAGE_DIR, "node_modules", "typescript-5.9", "bin", "tsc"),
};

/** What every consumer prints: the same API, whichever way it was loaded. */
const PROGRAM_BODY = `
const client = connect({ url: process.env["ARTREG_URL"] ?? "" });
try {
  const registry = client.artifactRegistry("artifacts");
  const endpoint = await registry.registryEndpoint();
  const host = new URL(endpoint).host;
  const tags = await client.images.listTags(host + "/artifacts/never-pushed").catch((err: unknown) =>
    err instanceof ArtregError ? err.code : "not an ArtregError",
  );
  console.log(JSON.stringify({ endpoint: endpoint.startsWith("http://127.0.0.1:"), tags, api: typeof Images, limit: MAX_INLINE_BYTES }));
} finally {
  await client.close();
}
`;

const ESM = `import { ArtregError, Images, MAX_INLINE_BYTES, connect } from "@artreg/client";
${PROGRAM_BODY.replaceAll(": unknown", "")}`;

const CJS = `"use strict";
const { ArtregError, Images, MAX_INLINE_BYTES, connect } = require("@artreg/client");
(async () => {
${PROGRAM_BODY.replaceAll(": unknown", "")}
})().catch((err) => { console.error(err); process.exitCode = 1; });
`;

// A TypeScript program that is compiled to CommonJS (the project has no "type": "module"), so the
// compiler must use the package's "require" types and node must load its CommonJS build.
const TS = `import { ArtregError, Images, MAX_INLINE_BYTES, connect, type ImageTransferResult } from "@artreg/client";

async function main(): Promise<void> {
  const unused: ImageTransferResult | undefined = undefined;
  void unused;
${PROGRAM_BODY}
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
`;

/** The tsconfig the TypeScript quickstart recommends (checked here under TypeScript 7 and 5.9). */
const TSCONFIG = {
  compilerOptions: {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    types: ["node"],
    strict: true,
    skipLibCheck: true,
    outDir: "out",
  },
  include: ["*.ts"],
};

describe("installed from the packed tarball", { skip }, () => {
  let sidecar: Sidecar;
  let work: string;
  let project: string;

  before(async () => {
    sidecar = await Sidecar.start();
    work = mkdtempSync(join(tmpdir(), "artreg-ts-consumers-"));
    const packed = await run("npm", ["pack", "--ignore-scripts", "--pack-destination", work], { cwd: PACKAGE_DIR });
    const tarball = join(work, packed.stdout.trim().split("\n").at(-1) ?? "");
    project = join(work, "app");
    mkdirSync(project);
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", version: "1.0.0", private: true }) + "\n");
    await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", tarball], {
      cwd: project,
      timeout: 180_000,
    });
    // @types/node for the TypeScript consumer, as the quickstart says to install it
    mkdirSync(join(project, "node_modules", "@types"), { recursive: true });
    await run("cp", ["-r", join(PACKAGE_DIR, "node_modules", "@types", "node"), join(project, "node_modules", "@types", "node")]);
  });

  after(async () => {
    await sidecar?.dispose();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  async function runNode(script: string): Promise<unknown> {
    const { stdout } = await run(process.execPath, [script], { cwd: project, env: { ...process.env, ARTREG_URL: sidecar.url } });
    return JSON.parse(stdout);
  }

  const EXPECTED = { endpoint: true, tags: "REMOTE_RESOURCE_NOT_FOUND", api: "function", limit: 524288 };

  it("the tarball holds the ES module and the CommonJS build, each with its types", () => {
    const manifest = JSON.parse(readFileSync(join(project, "node_modules", "@artreg", "client", "package.json"), "utf8")) as {
      exports: Record<string, { import: { types: string; default: string }; require: { types: string; default: string } }>;
    };
    const root = manifest.exports["."];
    assert.ok(root !== undefined);
    for (const file of [root.import.types, root.import.default, root.require.types, root.require.default]) {
      assert.ok(readFileSync(join(project, "node_modules", "@artreg", "client", file)).byteLength > 0, file);
    }
  });

  it("an ES module imports it", async () => {
    writeFileSync(join(project, "esm.mjs"), ESM);
    assert.deepEqual(await runNode("esm.mjs"), EXPECTED);
  });

  it("a CommonJS script requires it", async () => {
    writeFileSync(join(project, "cjs.cjs"), CJS);
    assert.deepEqual(await runNode("cjs.cjs"), EXPECTED);
  });

  it("an ArtregError of one build is an instanceof the other's class (no dual-package hazard)", async () => {
    writeFileSync(
      join(project, "both.mjs"),
      `import { createRequire } from "node:module";
import * as esm from "@artreg/client";
const cjs = createRequire(import.meta.url)("@artreg/client");
const init = { code: "X", message: "m", retryable: false, internal: false };
const fromCjs = new cjs.ArtregError(init);
const fromEsm = new esm.ArtregError(init);
console.log(JSON.stringify({
  distinctClasses: cjs.ArtregError !== esm.ArtregError,
  cjsIsEsm: fromCjs instanceof esm.ArtregError,
  esmIsCjs: fromEsm instanceof cjs.ArtregError,
  guard: esm.isArtregError(fromCjs, "X"),
  plainError: new Error("m") instanceof esm.ArtregError,
}));
`,
    );
    assert.deepEqual(await runNode("both.mjs"), { distinctClasses: true, cjsIsEsm: true, esmIsCjs: true, guard: true, plainError: false });
  });

  for (const [version, tsc] of Object.entries(COMPILERS)) {
    it(`a TypeScript program compiled to CommonJS by TypeScript ${version} type-checks and runs`, async () => {
      const dir = join(project, `ts-${version}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "main.ts"), TS);
      writeFileSync(join(dir, "tsconfig.json"), JSON.stringify(TSCONFIG, null, 2));
      const { stdout: versionLine } = await run(process.execPath, [tsc, "--version"]);
      assert.match(versionLine, new RegExp(`Version ${version.replace(".", "\\.")}\\.`));
      await run(process.execPath, [tsc, "-p", dir], { cwd: dir }).catch((err: { stdout?: string; stderr?: string }) => {
        assert.fail(`tsc ${version} failed:\n${err.stdout ?? ""}${err.stderr ?? ""}`);
      });
      const emitted = readFileSync(join(dir, "out", "main.js"), "utf8");
      assert.match(emitted, /require\("@artreg\/client"\)/, "compiled to CommonJS");
      assert.deepEqual(await runNode(join(dir, "out", "main.js")), EXPECTED);
    });
  }
});
