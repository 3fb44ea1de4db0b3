// `npm run bench`: runs each benchmark (compiled bench/*.js other than this runner) in its own
// process, then merges their bench/results-*.json files into bench/results.json.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';

const compiled = __dirname; // dist/bench
const sources = join(__dirname, '..', '..', 'bench');
const only = process.argv.slice(2);
const benches = readdirSync(compiled)
  .filter((f) => f.endsWith('.js') && f !== 'run.js')
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort();
let failed = 0;
for (const file of benches) {
  console.log(`\n== bench ${file}`);
  const r = spawnSync(process.execPath, [join(compiled, file)], { stdio: 'inherit', cwd: join(__dirname, '..', '..') });
  if (r.status !== 0) {
    console.error(`bench ${file} failed (exit ${r.status})`);
    failed++;
  }
}
const merged: Record<string, unknown> = { machine: { cpus: cpus().length, node: process.version }, date: new Date().toISOString() };
for (const f of readdirSync(sources).filter((f) => /^results-.+\.json$/.test(f)).sort()) {
  merged[f.slice('results-'.length, -'.json'.length)] = JSON.parse(readFileSync(join(sources, f), 'utf8'));
}
const out = join(sources, 'results.json');
if (existsSync(out) || Object.keys(merged).length > 2) writeFileSync(out, JSON.stringify(merged, null, 2) + '\n');
console.log(`\nbench results merged into ${out}`);
process.exit(failed ? 1 : 0);
