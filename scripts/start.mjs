// `npm start`: a local Node-RED on 127.0.0.1 with this package in the palette and the shipped
// server flow deployed. User data lives in .nodered/ (git-ignored).
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const userDir = process.env.DMS3_USER_DIR ?? join(root, '.nodered');
const port = Number(process.env.PORT ?? 1880);
const host = process.env.HOST ?? '127.0.0.1';
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

mkdirSync(join(userDir, 'node_modules'), { recursive: true });
const link = join(userDir, 'node_modules', pkg.name);
rmSync(link, { force: true, recursive: true });
symlinkSync(root, link, 'dir');

// The agents' token: from DMS3_TOKEN, else generated once and kept in the user directory.
const tokenFile = join(userDir, 'dms3-token');
let token = process.env.DMS3_TOKEN;
let tokenSource = 'DMS3_TOKEN';
if (!token) {
  if (!existsSync(tokenFile)) writeFileSync(tokenFile, randomBytes(24).toString('base64url') + '\n', { mode: 0o600 });
  token = readFileSync(tokenFile, 'utf8').trim();
  tokenSource = tokenFile;
}

// Node-RED encrypts credentials (SMTP password, tokens) with this key, kept beside them.
const secretFile = join(userDir, 'credential-secret');
if (!existsSync(secretFile)) writeFileSync(secretFile, randomBytes(24).toString('base64url') + '\n', { mode: 0o600 });
const credentialSecret = process.env.DMS3_CREDENTIAL_SECRET ?? readFileSync(secretFile, 'utf8').trim();

// Deploy the shipped flow on first start, and again whenever the shipped flow changes;
// edits made in the editor survive restarts otherwise.
const shipped = readFileSync(join(root, 'flows', 'dms3-server.json'));
const hash = createHash('sha256').update(shipped).digest('hex');
const hashFile = join(userDir, '.shipped-flow-sha256');
if (!existsSync(join(userDir, 'flows.json')) || !existsSync(hashFile) || readFileSync(hashFile, 'utf8') !== hash) {
  writeFileSync(join(userDir, 'flows.json'), shipped);
  writeFileSync(hashFile, hash);
}

writeFileSync(
  join(userDir, 'settings.js'),
  `module.exports = {
  uiHost: ${JSON.stringify(host)},
  uiPort: ${port},
  flowFile: 'flows.json',
  credentialSecret: ${JSON.stringify(credentialSecret)},
  contextStorage: { default: { module: 'localfilesystem' } },
  logging: { console: { level: 'info' } },
};
`,
);

const red = spawn(process.execPath, [join(root, 'node_modules', 'node-red', 'red.js'), '--userDir', userDir, '--settings', join(userDir, 'settings.js')], {
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, DMS3_TOKEN: token },
});
let announced = false;
red.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  if (!announced && /Started flows|Server now running/.test(chunk.toString())) {
    announced = true;
    console.log(`\nDMS3 server flow running.\n  Editor:     http://${host}:${port}/\n  Dashboard:  http://${host}:${port}/dms3/  (sign in with the agent token, or set a dashboard password in the hub node)\n  Agent token (${tokenSource}): ${token}\n`);
  }
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => red.kill(sig));
red.on('exit', (code) => process.exit(code ?? 0));
