#!/usr/bin/env node
// Builds the package twice from src/: ES modules into dist/esm and CommonJS into dist/cjs (with a
// package.json saying so), so `import` and `require` of @artreg/client both work (package.json's
// "exports" picks one by condition). Uses the pinned TypeScript 7 compiler by path: the package
// also carries TypeScript 5.9 (for the compatibility test), whose `tsc` may win node_modules/.bin.
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const TSC = join(PACKAGE_DIR, "node_modules", "typescript", "bin", "tsc");

rmSync(join(PACKAGE_DIR, "dist"), { recursive: true, force: true });
for (const project of ["tsconfig.build.json", "tsconfig.cjs.json"]) {
  execFileSync(process.execPath, [TSC, "-p", join(PACKAGE_DIR, project)], { stdio: "inherit", cwd: PACKAGE_DIR });
}
mkdirSync(join(PACKAGE_DIR, "dist", "cjs"), { recursive: true });
writeFileSync(join(PACKAGE_DIR, "dist", "cjs", "package.json"), JSON.stringify({ type: "commonjs" }) + "\n");
