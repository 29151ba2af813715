// The RBAC rules a rendered chart grants to a ServiceAccount, as JSON for rbac_check.py:
//   node chart_rbac.mjs RENDERED.yaml NAMESPACE SERVICEACCOUNT
//   -> {"cluster": [rules of ClusterRoles bound by ClusterRoleBindings],
//       "namespaces": {"ns": [rules of Roles and ClusterRoles bound by RoleBindings in ns]}}
// Only bindings whose subjects name that ServiceAccount count; a binding to a role that is not
// in the rendering is an error (the chart would grant nothing there).
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const require = createRequire(join(process.env.SK_K8S_NODE ?? ".", "package.json"));
const yaml = require("js-yaml");
const [file, namespace, sa] = process.argv.slice(2);
if (!file || !namespace || !sa) {
  console.error("usage: chart_rbac.mjs RENDERED.yaml NAMESPACE SERVICEACCOUNT");
  process.exit(2);
}
const docs = yaml.loadAll(readFileSync(file, "utf8")).filter(Boolean);
const find = (kind, name, ns) =>
  docs.find((d) => d.kind === kind && d.metadata?.name === name && (ns === undefined || (d.metadata?.namespace ?? namespace) === ns));
const boundToSa = (b) =>
  (b.subjects ?? []).some((s) => s.kind === "ServiceAccount" && s.name === sa && (s.namespace ?? b.metadata?.namespace) === namespace);

const out = { cluster: [], namespaces: {} };
let problems = 0;
for (const b of docs.filter((d) => d.kind === "ClusterRoleBinding" || d.kind === "RoleBinding")) {
  if (!boundToSa(b)) continue;
  const ns = b.kind === "RoleBinding" ? b.metadata?.namespace ?? namespace : undefined;
  const role = b.roleRef.kind === "ClusterRole" ? find("ClusterRole", b.roleRef.name) : find("Role", b.roleRef.name, ns);
  if (!role) {
    console.error(`chart_rbac: ${b.kind} ${b.metadata.name} refers to ${b.roleRef.kind} ${b.roleRef.name}, which is not rendered`);
    problems++;
    continue;
  }
  if (ns === undefined) out.cluster.push(...(role.rules ?? []));
  else (out.namespaces[ns] ??= []).push(...(role.rules ?? []));
}
console.log(JSON.stringify(out, null, 1));
process.exit(problems ? 1 : 0);
