// Validates Kubernetes manifests offline against the Kubernetes and Prometheus Operator
// schemas published as kubernetes-models, twice over:
//   1. each object's validate() (the JSON schema: types, formats, patterns, required fields);
//   2. `tsc --strict` on every object written as a literal of the model's interface, which
//      rejects fields the schema does not know (a typo such as readOnlyRootFileSystem),
//      as the API server's strict field validation would.
// A deliberately broken copy of the first Deployment must fail step 2, so the check is
// known to bite. Usage: node check.mjs RENDERED.yaml (the output of kubectl kustomize).
import { readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';

const models = {
  'v1/ConfigMap': ['kubernetes-models/v1/ConfigMap', 'ConfigMap'],
  'v1/Secret': ['kubernetes-models/v1/Secret', 'Secret'],
  'v1/Service': ['kubernetes-models/v1/Service', 'Service'],
  'v1/ServiceAccount': ['kubernetes-models/v1/ServiceAccount', 'ServiceAccount'],
  'apps/v1/Deployment': ['kubernetes-models/apps/v1/Deployment', 'Deployment'],
  'monitoring.coreos.com/v1/ServiceMonitor': ['@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor', 'ServiceMonitor'],
  'monitoring.coreos.com/v1/PrometheusRule': ['@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule', 'PrometheusRule'],
};

const file = process.argv[2];
const objects = parseAllDocuments(readFileSync(file, 'utf8')).map((doc) => {
  if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0].message}`);
  return doc.toJS();
}).filter(Boolean);

if (!objects.some((o) => o.kind === 'Deployment')) {
  console.error(`${file}: no Deployment among ${objects.length} objects; is it the output of kubectl kustomize deploy/kubernetes?`);
  process.exit(1);
}

let failed = false;
const used = new Map();
for (const object of objects) {
  const key = `${object.apiVersion}/${object.kind}`;
  const name = `${object.kind} ${object.metadata?.name}`;
  const model = models[key];
  if (!model) {
    console.error(`${name}: no schema for ${key} in this check; add it to models`);
    failed = true;
    continue;
  }
  const module = await import(model[0]);
  try {
    new module[model[1]](object).validate();
  } catch (error) {
    console.error(`${name}: ${error.message}`);
    failed = true;
  }
  used.set(key, model);
}

// Step 2: typed literals.
const imports = [...used.values()].map(([path, type]) => `import type { I${type} } from '${path}';`).join('\n');
const literal = (object, i) => `export const object${i}: I${models[`${object.apiVersion}/${object.kind}`][1]} = ${JSON.stringify(object, null, 2)};\n`;
const known = objects.filter((o) => models[`${o.apiVersion}/${o.kind}`]);
writeFileSync(new URL('manifests.ts', import.meta.url), imports + '\n' + known.map(literal).join('\n'));

const deployment = structuredClone(known.find((o) => o.kind === 'Deployment'));
deployment.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem = true;
writeFileSync(new URL('manifests-broken.ts', import.meta.url), `import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';\n` + `export const broken: IDeployment = ${JSON.stringify(deployment, null, 2)};\n`);

const tsc = (source, stdio) => spawnSync('npx', ['tsc', '--noEmit', '--strict', '--skipLibCheck', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', source], {
  cwd: new URL('.', import.meta.url),
  stdio,
});
if (tsc('manifests.ts', 'inherit').status !== 0) failed = true;
const broken = tsc('manifests-broken.ts', 'pipe');
if (broken.status === 0 || !String(broken.stdout).includes('readOnlyRootFileSystem')) {
  console.error('self-test: a Deployment with an unknown field passed the strict check');
  failed = true;
}
if (failed) process.exit(1);
console.log(`${objects.length} objects (${[...used.keys()].join(', ')}) match the Kubernetes and Prometheus Operator schemas, strictly.`);
