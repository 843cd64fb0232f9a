// Writes every dashboard as an object literal typed `Dashboard` (Grafana's dashboard model
// from @grafana/schema) and runs `tsc --strict` on it: a wrong field, a wrong type or an
// unknown enum value fails the check. String enums of the model are TypeScript enums, which
// string literals cannot satisfy, so their values are written as enum members when the
// value is one; an unknown value stays a string and fails.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import * as schema from '@grafana/schema';

const dir = new URL('../../dashboards/', import.meta.url);
const enums = { color: { mode: 'FieldColorModeId' }, thresholds: { mode: 'ThresholdsMode' }, mappings: { type: 'MappingType' } };

function literal(value, parentKey, indent) {
  const pad = '  '.repeat(indent);
  if (Array.isArray(value)) {
    return '[\n' + value.map((v) => pad + '  ' + literal(v, parentKey, indent + 1)).join(',\n') + '\n' + pad + ']';
  }
  if (value !== null && typeof value === 'object') {
    return '{\n' + Object.entries(value).map(([k, v]) => {
      const enumName = enums[parentKey]?.[k];
      if (enumName && typeof v === 'string') {
        const member = Object.entries(schema[enumName]).find(([, val]) => val === v);
        if (member) return `${pad}  ${JSON.stringify(k)}: ${enumName}.${member[0]}`;
      }
      return `${pad}  ${JSON.stringify(k)}: ${literal(v, k, indent + 1)}`;
    }).join(',\n') + '\n' + pad + '}';
  }
  return JSON.stringify(value);
}

const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
let source = `import { type Dashboard, ${[...new Set(Object.values(enums).flatMap(Object.values))].join(', ')} } from '@grafana/schema';\n`;
files.forEach((file, i) => {
  const dashboard = JSON.parse(readFileSync(new URL(file, dir), 'utf8'));
  source += `\n// ${file}\nexport const dashboard${i}: Dashboard = ${literal(dashboard, '', 0)};\n`;
});
writeFileSync(new URL('dashboards.ts', import.meta.url), source);
execFileSync('npx', ['tsc', '--noEmit', '--strict', '--skipLibCheck', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', 'dashboards.ts'], {
  cwd: new URL('.', import.meta.url),
  stdio: 'inherit',
});
console.log(`${files.length} dashboards match Grafana's dashboard model (@grafana/schema).`);
