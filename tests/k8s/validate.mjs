// Offline checks of rendered manifests and of RedisCluster objects (scripts/k8s-check.sh).
//
//   node validate.mjs manifests FILE...
//       Every document must be a known apiVersion/kind and valid against the Kubernetes schemas
//       of kubernetes-models (and @kubernetes-models/prometheus-operator for ServiceMonitor).
//       Those schemas do not refuse unknown fields; a real API server's strict validation does.
//   node validate.mjs crd CRD.yaml --good FILE... --bad FILE... [--owned-from spec.cc]
//       Every good RedisCluster must pass the CRD's openAPIV3Schema and its CEL rules; every bad
//       one must fail, with each `# expect: TEXT` line of the file found in some error.
//       --owned-from: every directive of OwnedRedisDirectives() in that C++ file must be refused
//       by the CRD's spec.redis.config schema.
//
// How the CRD schema is checked without an API server (what follows mirrors the API server;
// only a real one can confirm it): the structural schema is turned into a JSON Schema for ajv
// (x-kubernetes-int-or-string -> integer or string; nullable; OpenAPI 3.0's boolean
// exclusiveMinimum; objects with properties and no additionalProperties refuse unknown fields,
// as strict field validation does; x-kubernetes-preserve-unknown-fields keeps them; metadata
// only checks name). Defaults are applied first (ajv useDefaults), as the API server defaults
// before it validates. Then every x-kubernetes-validations rule is compiled and run with CEL
// (@bufbuild/cel, with the strings extension that Kubernetes also enables), `self` bound to the
// value at the rule's node, integers as CEL ints and numbers as doubles, as Kubernetes does.
import { createRequire } from "node:module";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const nodeDir = process.env.SK_K8S_NODE;
if (!nodeDir) {
  console.error("validate.mjs: SK_K8S_NODE is not set (eval \"$(scripts/k8s-tools.sh)\")");
  process.exit(2);
}
const require = createRequire(join(nodeDir, "package.json"));
const yaml = require("js-yaml");

function loadDocs(file) {
  return yaml.loadAll(readFileSync(file, "utf8")).filter((d) => d !== null && d !== undefined);
}

// ---------- manifests ----------

// The model class of an apiVersion/kind; the packages are ESM-only, so by file path.
async function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const pkg = group === "monitoring.coreos.com" ? "@kubernetes-models/prometheus-operator" : "kubernetes-models";
  const file = join(nodeDir, "node_modules", pkg, group, version, `${kind}.js`);
  if (!/^[A-Za-z0-9]+$/.test(kind) || !existsSync(file)) return null;
  const mod = await import(pathToFileURL(file).href);
  return mod[kind] ?? mod.default ?? null;
}

async function checkManifests(files) {
  let failures = 0;
  let count = 0;
  for (const file of files) {
    for (const doc of loadDocs(file)) {
      count++;
      const where = `${file}: ${doc.kind ?? "?"} ${doc.metadata?.name ?? "?"}`;
      if (!doc.apiVersion || !doc.kind) {
        console.error(`FAIL ${where}: no apiVersion/kind`);
        failures++;
        continue;
      }
      const Model = await modelFor(doc.apiVersion, doc.kind);
      if (!Model) {
        console.error(`FAIL ${where}: no schema for ${doc.apiVersion} ${doc.kind}`);
        failures++;
        continue;
      }
      try {
        new Model(doc).validate();
      } catch (e) {
        const details = (e.errors ?? []).map((x) => `${x.instancePath} ${x.message}`).join("; ");
        console.error(`FAIL ${where}: ${details || e.message}`);
        failures++;
      }
    }
  }
  console.log(`manifests: ${count - failures} of ${count} documents valid`);
  return failures === 0;
}

// ---------- CRD schema -> ajv ----------

// A JSON Schema for ajv from a Kubernetes structural schema node.
function toJsonSchema(node, path) {
  if (node === null || typeof node !== "object") return node;
  const out = {};
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith("x-kubernetes-") || key === "description" || key === "format") continue;
    if (key === "properties") {
      out.properties = {};
      for (const [name, child] of Object.entries(value)) {
        out.properties[name] = toJsonSchema(child, `${path}.${name}`);
      }
    } else if (key === "items" || key === "additionalProperties" || key === "not") {
      out[key] = typeof value === "object" ? toJsonSchema(value, path) : value;
    } else if (key === "anyOf" || key === "allOf" || key === "oneOf") {
      out[key] = value.map((v) => toJsonSchema(v, path));
    } else if (key === "exclusiveMinimum" || key === "exclusiveMaximum") {
      // OpenAPI 3.0: a boolean beside minimum/maximum.
      const bound = key === "exclusiveMinimum" ? "minimum" : "maximum";
      if (value === true) {
        out[key] = node[bound];
        delete out[bound];
      }
    } else if ((key === "minimum" || key === "maximum") && node[key === "minimum" ? "exclusiveMinimum" : "exclusiveMaximum"] === true) {
      // handled with the exclusive form
    } else if (key === "nullable") {
      // below
    } else {
      out[key] = value;
    }
  }
  if (node["x-kubernetes-int-or-string"]) {
    delete out.anyOf;
    out.type = ["integer", "string"];
  }
  if (node.nullable && out.type) {
    out.type = [...(Array.isArray(out.type) ? out.type : [out.type]), "null"];
    if (out.enum) out.enum = [...out.enum, null];
  }
  if (node.type === "object" && node.properties && node.additionalProperties === undefined &&
      !node["x-kubernetes-preserve-unknown-fields"]) {
    out.additionalProperties = false;
  }
  if (path === ".metadata") {
    // The API server checks ObjectMeta itself; the CRD may only restrict name.
    delete out.additionalProperties;
  }
  return out;
}

function makeValidator(crd) {
  const Ajv = require("ajv");
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
  const schema = crd.spec.versions.find((v) => v.storage).schema.openAPIV3Schema;
  return { validate: ajv.compile(toJsonSchema(schema, "")), schema };
}

// ---------- CEL ----------

let cel;
function celLib() {
  if (!cel) {
    const core = require("@bufbuild/cel");
    const ext = require("@bufbuild/cel/ext");
    cel = { ...core, strings: ext.strings };
  }
  return cel;
}

// A JSON value as CEL sees it under a schema node: integer-typed numbers become ints.
function toCel(value, node) {
  if (Array.isArray(value)) return value.map((v) => toCel(v, node?.items));
  if (value !== null && typeof value === "object") {
    const m = new Map();
    for (const [k, v] of Object.entries(value)) {
      m.set(k, toCel(v, node?.properties?.[k] ?? (typeof node?.additionalProperties === "object" ? node.additionalProperties : undefined)));
    }
    return m;
  }
  if (typeof value === "number" && (node?.type === "integer" || (node?.["x-kubernetes-int-or-string"] && Number.isInteger(value)))) {
    return BigInt(value);
  }
  return value;
}

function runRule(rule, self) {
  const { run, isCelError, strings } = celLib();
  let result;
  try {
    result = run(rule, { self }, { funcs: strings });
  } catch (e) {
    return { error: `does not compile: ${e.message}` };
  }
  if (isCelError(result)) return { error: `evaluation error: ${result.message}` };
  if (typeof result !== "boolean") return { error: `returned ${typeof result}, not a bool` };
  return { ok: result };
}

// Every rule of the schema, with its node, for a compile check independent of the data.
function allRules(node, path, out = []) {
  if (!node || typeof node !== "object") return out;
  for (const r of node["x-kubernetes-validations"] ?? []) out.push({ path, rule: r.rule });
  for (const [name, child] of Object.entries(node.properties ?? {})) allRules(child, `${path}.${name}`, out);
  if (node.items) allRules(node.items, `${path}[*]`, out);
  if (typeof node.additionalProperties === "object") allRules(node.additionalProperties, `${path}.*`, out);
  return out;
}

function celErrors(node, value, path, errors) {
  if (value === undefined || !node || typeof node !== "object") return;
  for (const r of node["x-kubernetes-validations"] ?? []) {
    const res = runRule(r.rule, toCel(value, node));
    if (res.error) errors.push(`${path}: CEL rule ${JSON.stringify(r.rule)} ${res.error}`);
    else if (!res.ok) errors.push(`${path}: ${r.message ?? `failed rule: ${r.rule}`}`);
  }
  if (Array.isArray(value) && node.items) {
    value.forEach((v, i) => celErrors(node.items, v, `${path}[${i}]`, errors));
  } else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      const child = node.properties?.[k] ?? (typeof node.additionalProperties === "object" ? node.additionalProperties : undefined);
      celErrors(child, v, `${path}.${k}`, errors);
    }
  }
}

function errorsOf(validator, doc) {
  const obj = structuredClone(doc);
  const errors = [];
  if (!validator.validate(obj)) {
    for (const e of validator.validate.errors) {
      const extra = e.params?.additionalProperty ? ` (${e.params.additionalProperty})` : "";
      errors.push(`${e.instancePath || "/"} ${e.message}${extra}`);
    }
  }
  // CEL runs only on values that passed the schema, as in the API server.
  if (errors.length === 0) celErrors(validator.schema, obj, "", errors);
  return errors;
}

async function checkCrd(crdFile, good, bad, ownedFrom) {
  const crd = loadDocs(crdFile)[0];
  const validator = makeValidator(crd);
  let ok = true;
  const fail = (msg) => {
    console.error(`FAIL ${msg}`);
    ok = false;
  };

  for (const { path, rule } of allRules(validator.schema, "")) {
    try {
      celLib().parse(rule);
    } catch (e) {
      fail(`${crdFile} ${path}: CEL rule does not compile: ${rule}: ${e.message}`);
    }
  }

  let passed = 0;
  for (const file of good) {
    for (const doc of loadDocs(file)) {
      if (doc.kind !== "RedisCluster") {
        // Other objects beside the examples (a Secret, say) are checked like rendered ones.
        const Model = await modelFor(doc.apiVersion, doc.kind);
        try {
          if (!Model) throw new Error(`no schema for ${doc.apiVersion} ${doc.kind}`);
          new Model(doc).validate();
          passed++;
        } catch (e) {
          fail(`${file}: ${doc.kind}: ${(e.errors ?? []).map((x) => `${x.instancePath} ${x.message}`).join("; ") || e.message}`);
        }
        continue;
      }
      const errors = errorsOf(validator, doc);
      if (errors.length) fail(`${file}: a good RedisCluster was refused: ${errors.join("; ")}`);
      else passed++;
    }
  }

  let refused = 0;
  for (const file of bad) {
    const text = readFileSync(file, "utf8");
    const expects = [...text.matchAll(/^# expect: (.+)$/gm)].map((m) => m[1].trim());
    if (expects.length === 0) fail(`${file}: no "# expect:" line`);
    const errors = errorsOf(validator, loadDocs(file)[0]);
    if (errors.length === 0) {
      fail(`${file}: a bad RedisCluster was accepted`);
      continue;
    }
    const missing = expects.filter((x) => !errors.some((e) => e.includes(x)));
    if (missing.length) {
      fail(`${file}: expected ${JSON.stringify(missing)} among the errors, got: ${errors.join("; ")}`);
      continue;
    }
    refused++;
  }

  let owned = 0;
  if (ownedFrom) {
    const source = readFileSync(ownedFrom, "utf8");
    const body = source.slice(source.indexOf("OwnedRedisDirectives() {"));
    const names = [...body.slice(0, body.indexOf("\n}\n")).matchAll(/\{"([a-z0-9-]+)",/g)].map((m) => m[1]);
    if (names.length < 10) fail(`${ownedFrom}: found only ${names.length} owned directives; has the code moved?`);
    const base = { apiVersion: "slotkeeper.io/v1alpha1", kind: "RedisCluster", metadata: { name: "owned" }, spec: { masters: 3 } };
    for (const name of names) {
      const doc = structuredClone(base);
      doc.spec.redis = { config: { [name]: "x" } };
      if (errorsOf(validator, doc).length === 0) fail(`spec.redis.config.${name} (owned in ${ownedFrom}) is accepted by the CRD`);
      else owned++;
    }
  }
  console.log(`crd: ${passed} good objects accepted, ${refused} of ${bad.length} bad ones refused as expected` +
    (ownedFrom ? `, ${owned} owned directives refused` : ""));
  return ok;
}

// ---------- main ----------

function listArg(args, flag) {
  const i = args.indexOf(flag);
  if (i < 0) return [];
  const out = [];
  for (let j = i + 1; j < args.length && !args[j].startsWith("--"); j++) out.push(args[j]);
  return out;
}

const [mode, ...rest] = process.argv.slice(2);
let ok;
if (mode === "manifests") {
  ok = await checkManifests(rest);
} else if (mode === "crd") {
  ok = await checkCrd(rest[0], listArg(rest, "--good"), listArg(rest, "--bad"), listArg(rest, "--owned-from")[0]);
} else {
  console.error("usage: validate.mjs manifests FILE... | crd CRD.yaml --good FILE... --bad FILE... [--owned-from FILE]");
  process.exit(2);
}
process.exit(ok ? 0 : 1);
