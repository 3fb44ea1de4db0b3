// Build: type-check and emit CommonJS with tsc, then lay out what Node-RED loads:
// each node's .html, locales/ and icons/ beside its .js, and the server flow under examples/.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, copyFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');

rmSync(dist, { recursive: true, force: true });
try {
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
} catch {
  console.error('build: TypeScript reported errors (above)');
  process.exit(1);
}

// Every non-TypeScript asset under these folders is copied as it is (editor HTML, locales, templates, schemas).
function copyAssets(dir) {
  for (const entry of readdirSync(dir)) {
    const src = join(dir, entry);
    if (statSync(src).isDirectory()) copyAssets(src);
    else if (!entry.endsWith('.ts')) {
      const dest = join(dist, relative(root, src));
      mkdirSync(dirname(dest), { recursive: true });
      copyFileSync(src, dest);
    }
  }
}
for (const dir of ['lib', 'nodes', 'agent', 'dashboard', 'test/fixtures']) {
  if (existsSync(join(root, dir))) copyAssets(join(root, dir));
}

// Node-RED looks for icons only in icons/ beside each node's .js file.
for (const name of readdirSync(join(root, 'nodes'))) {
  if (existsSync(join(root, 'nodes', name, `${name}.html`))) {
    cpSync(join(root, 'icons'), join(dist, 'nodes', name, 'icons'), { recursive: true });
  }
}

// The shipped server flow is the source of truth; Import › Examples offers a copy of it.
mkdirSync(join(root, 'examples'), { recursive: true });
copyFileSync(join(root, 'flows', 'dms3-server.json'), join(root, 'examples', '01 DMS3 server.json'));
