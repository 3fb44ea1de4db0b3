// Runs the node and packaging tests on Node-RED 5 under Node 22. Both are installed from the npm
// registry into .cache/nr5 (outside this package's dependencies: a dependency on `node` would move
// every npm script onto it). Run after `npm run build`.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = join(process.cwd(), '.cache', 'nr5');
const node22 = join(dir, 'node_modules', '.bin', 'node');
if (!existsSync(node22) || !existsSync(join(dir, 'node_modules', 'node-red'))) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true }));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--silent', 'node@22', 'node-red@5'], { cwd: dir, stdio: 'inherit' });
}
const env = { ...process.env, DMS3_NODE_RED_DIR: dir, DMS3_NODE_BIN: node22 };
const result = spawnSync(process.execPath, ['scripts/test.mjs', 'nodes', 'package'], { stdio: 'inherit', env: { ...env, DMS3_TEST_NODE: node22 } });
process.exit(result.status ?? 1);
