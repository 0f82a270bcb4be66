#!/usr/bin/env node
// Generates src/generated/types.ts (from schemas/artreg.schema.json, with json-schema-to-typescript)
// and src/generated/methods.ts (from schemas/openrpc.json) — the only place wire shapes enter the
// TypeScript client.
//
//   node scripts/generate.mjs              write both files into src/generated/
//   node scripts/generate.mjs --out DIR    write them into DIR instead
//   node scripts/generate.mjs --check      exit 1 when the committed files differ from a fresh run
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual, parseArgs } from "node:util";

import { compile } from "json-schema-to-typescript";

const HERE = dirname(fileURLToPath(import.meta.url));
const PACKAGE_DIR = resolve(HERE, "..");
const SCHEMAS_DIR = resolve(PACKAGE_DIR, "../../schemas");
const GENERATED_DIR = join(PACKAGE_DIR, "src/generated");
const BUNDLE = join(SCHEMAS_DIR, "artreg.schema.json");
const OPENRPC = join(SCHEMAS_DIR, "openrpc.json");

const BANNER = (source) =>
  [
    "/* eslint-disable */",
    "/**",
    ` * Generated from schemas/${source} by scripts/generate.mjs (npm run generate).`,
    " * DO NOT EDIT: change the Python wire types and run `make schemas`.",
    " */",
  ].join("\n");

class GenerateError extends Error {}

/** The bundle with the tweaks json-schema-to-typescript needs to give exact types. */
function prepareBundle(bundle) {
  const schema = structuredClone(bundle);
  // Objects whose keys are not declared (ErrorData.context) are free-form maps; every other
  // object gets `additionalProperties: false` by default so its interface has no index signature.
  const visit = (node) => {
    if (Array.isArray(node)) {
      node.forEach(visit);
      return;
    }
    if (node === null || typeof node !== "object") return;
    if (node.type === "object" && node.properties === undefined && node.additionalProperties === undefined) {
      node.additionalProperties = true;
    }
    Object.values(node).forEach(visit);
  };
  visit(schema.$defs);
  return schema;
}

async function generateTypes(bundle) {
  const rootTitle = bundle.title;
  const ts = await compile(prepareBundle(bundle), rootTitle, {
    bannerComment: BANNER("artreg.schema.json"),
    unreachableDefinitions: true,
    unknownAny: true,
    additionalProperties: false,
    strictIndexSignatures: false,
    format: true,
  });
  // The root only gathers $defs: drop the empty interface json-schema-to-typescript emits for it.
  const rootName = rootTitle.charAt(0).toUpperCase() + rootTitle.slice(1);
  const root = new RegExp(`/\\*\\*\\n(?: \\*.*\\n)* \\*/\\nexport interface ${rootName} \\{\\}\\n`);
  if (!root.test(ts)) {
    throw new GenerateError(`expected an empty root interface ${rootName} in the json2ts output`);
  }
  return ts.replace(root, "");
}

/** `#/components/schemas/X` (OpenRPC) and `#/$defs/X` (bundle) both name the type X. */
function refName(ref) {
  const match = /^#\/(?:components\/schemas|\$defs)\/([A-Za-z0-9_]+)$/.exec(ref);
  if (!match) throw new GenerateError(`unsupported $ref ${ref}`);
  return match[1];
}

function normalize(schema) {
  if (Array.isArray(schema)) return schema.map(normalize);
  if (schema === null || typeof schema !== "object") return schema;
  const out = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === "description" || key === "title" || key === "default") continue;
    out[key] = key === "$ref" ? refName(value) : normalize(value);
  }
  return out;
}

/** A TypeScript type expression for a (result) schema, naming bundle types by their $ref. */
function tsType(schema, where) {
  if (schema.$ref !== undefined) return refName(schema.$ref);
  if (schema.anyOf !== undefined) return schema.anyOf.map((s) => tsType(s, where)).join(" | ");
  switch (schema.type) {
    case "null":
      return "null";
    case "string":
      return "string";
    case "integer":
    case "number":
      return "number";
    case "boolean":
      return "boolean";
    case "array": {
      const item = tsType(schema.items ?? {}, where);
      return /[ |]/.test(item) ? `Array<${item}>` : `${item}[]`;
    }
    default:
      throw new GenerateError(`${where}: unsupported schema ${JSON.stringify(schema)}`);
  }
}

/**
 * The bundle interface that describes a method's by-name params: `<Method>Params` when it matches,
 * else the one params type with exactly the same properties, required set and property schemas.
 */
function paramsType(method, shortName, defs) {
  const props = Object.fromEntries(method.params.map((p) => [p.name, normalize(p.schema)]));
  const required = method.params.filter((p) => p.required).map((p) => p.name).sort();
  const matches = (name) => {
    const def = defs[name];
    return (
      def?.type === "object" &&
      isDeepStrictEqual(normalize(def.properties ?? {}), props) &&
      isDeepStrictEqual([...(def.required ?? [])].sort(), required)
    );
  };
  const own = shortName.charAt(0).toUpperCase() + shortName.slice(1) + "Params";
  if (matches(own)) return own;
  const candidates = Object.keys(defs).filter((name) => name.endsWith("Params") && matches(name));
  if (candidates.length !== 1) {
    throw new GenerateError(
      `${method.name}: ${candidates.length} params types in the bundle match its params ` +
        `(${candidates.join(", ") || "none"}); name one ${own}`,
    );
  }
  return candidates[0];
}

function generateMethods(openrpc, bundle) {
  const defs = bundle.$defs;
  const used = new Set();
  const entries = [];
  for (const method of openrpc.methods) {
    if (method.paramStructure !== "by-name") {
      throw new GenerateError(`${method.name}: only by-name params are supported`);
    }
    const shortName = method.name.slice(method.name.lastIndexOf(".") + 1);
    const params = paramsType(method, shortName, defs);
    const result = tsType(method.result.schema, method.name);
    used.add(params);
    for (const match of result.matchAll(/\b(?!Array\b)[A-Z][A-Za-z0-9_]*/g)) {
      if (!(match[0] in defs)) throw new GenerateError(`${method.name}: unknown result type ${match[0]}`);
      used.add(match[0]);
    }
    entries.push({ name: method.name, summary: method.summary, params, result, method });
  }

  const lines = [BANNER("openrpc.json"), ""];
  lines.push(`import type { ${[...used].sort().join(", ")} } from "./types.js";`, "");
  lines.push(`/** The OpenRPC document's version of the sidecar API. */`);
  lines.push(`export const API_VERSION = ${JSON.stringify(openrpc.info.version)};`, "");
  lines.push("/** Every sidecar method: its by-name params type and its result type. */");
  lines.push("export interface ArtregMethods {");
  for (const e of entries) {
    if (e.summary) lines.push(`  /** ${e.summary.replaceAll("*/", "*\\/")} */`);
    lines.push(`  ${JSON.stringify(e.name)}: { params: ${e.params}; result: ${e.result} };`);
  }
  lines.push("}", "");
  lines.push("/** A sidecar method's name. */");
  lines.push("export type ArtregMethodName = keyof ArtregMethods;", "");
  lines.push("/** The params interface of a method. */");
  lines.push('export type ParamsOf<M extends ArtregMethodName> = ArtregMethods[M]["params"];', "");
  lines.push("/** The result type of a method. */");
  lines.push('export type ResultOf<M extends ArtregMethodName> = ArtregMethods[M]["result"];', "");
  lines.push("/** Each method's required and optional param names, in the OpenRPC document's order. */");
  lines.push("export const METHOD_PARAMS: {");
  lines.push("  readonly [M in ArtregMethodName]: { readonly required: readonly string[]; readonly optional: readonly string[] };");
  lines.push("} = {");
  for (const e of entries) {
    const required = e.method.params.filter((p) => p.required).map((p) => p.name);
    const optional = e.method.params.filter((p) => !p.required).map((p) => p.name);
    lines.push(`  ${JSON.stringify(e.name)}: { required: ${list(required)}, optional: ${list(optional)} },`);
  }
  lines.push("};", "");
  return lines.join("\n");
}

function list(items) {
  return `[${items.map((item) => JSON.stringify(item)).join(", ")}]`;
}

async function readJson(path) {
  try {
    return JSON.parse(await readFile(path, "utf8"));
  } catch (err) {
    throw new GenerateError(`cannot read ${path}: ${err.message}`);
  }
}

export async function generate() {
  const bundle = await readJson(BUNDLE);
  const openrpc = await readJson(OPENRPC);
  return {
    "types.ts": await generateTypes(bundle),
    "methods.ts": generateMethods(openrpc, bundle),
  };
}

async function main() {
  const { values } = parseArgs({
    options: { out: { type: "string" }, check: { type: "boolean", default: false } },
  });
  const files = await generate();
  if (values.check) {
    const stale = [];
    for (const [name, text] of Object.entries(files)) {
      const committed = await readFile(join(GENERATED_DIR, name), "utf8").catch(() => null);
      if (committed !== text) stale.push(`src/generated/${name}`);
    }
    if (stale.length > 0) {
      console.error(`generated files are out of date: ${stale.join(", ")}; run \`npm run generate\``);
      process.exit(1);
    }
    console.log("generated files are up to date");
    return;
  }
  const outDir = values.out === undefined ? GENERATED_DIR : resolve(values.out);
  await mkdir(outDir, { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    await writeFile(join(outDir, name), text);
  }
  console.log(`wrote ${Object.keys(files).join(", ")} to ${outDir}`);
}

main().catch((err) => {
  console.error(err instanceof GenerateError ? `generate: ${err.message}` : err);
  process.exit(1);
});
