// Runs the compiled tests of the named suites with node's test runner.
// Usage: node scripts/test.mjs unit nodes package   (after `npm run build`)
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const suites = process.argv.slice(2);
const files = [];
function collect(dir) {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir).sort()) {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) collect(p);
    else if (entry.endsWith('.test.js')) files.push(p);
  }
}
for (const suite of suites) collect(join('dist', 'test', suite));
if (files.length === 0) {
  console.error(`no test files found for suites: ${suites.join(', ')}`);
  process.exit(1);
}
const concurrency = process.env.TEST_CONCURRENCY ?? (suites.includes('system') ? '1' : '2');
// DMS3_TEST_NODE runs the tests under another Node binary (Node 22 for Node-RED 5).
const node = process.env.DMS3_TEST_NODE ?? process.execPath;
const result = spawnSync(node, ['--test', `--test-concurrency=${concurrency}`, '--test-timeout=600000', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
