// `npm start`: a local Node-RED on 127.0.0.1 with this package in the palette and the shipped
// server flow deployed. User data lives in .nodered/ (git-ignored). A HOST other than loopback is
// refused unless the editor is protected (DMS3_ADMIN_USER + DMS3_ADMIN_HASH become Node-RED's
// adminAuth): the editor and its admin API can run any code on this machine.
// `--dry-run` prepares the user directory and settings, then exits without starting Node-RED.
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
const dryRun = process.argv.includes('--dry-run');

const loopback = /^(localhost|127(\.\d{1,3}){3}|::1|\[::1\])$/i.test(host);
const adminUser = process.env.DMS3_ADMIN_USER ?? '';
const adminHash = process.env.DMS3_ADMIN_HASH ?? '';
if ((adminUser || adminHash) && (!adminUser || !/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(adminHash))) {
  console.error('npm start: set both DMS3_ADMIN_USER and DMS3_ADMIN_HASH (a bcrypt hash, see below); DMS3_ADMIN_HASH is not a bcrypt hash.');
  process.exit(78);
}
if (!loopback && !adminUser) {
  console.error(`npm start: refusing HOST=${host}: the Node-RED editor would be open to anyone who can reach it, and the editor can run any code on this machine.
Protect it first (Node-RED's adminAuth), e.g.:
  export DMS3_ADMIN_USER=admin
  export DMS3_ADMIN_HASH="$(node -e "console.log(require('bcryptjs').hashSync(process.argv[1], 10))" 'your long password')"
  HOST=${host} npm start
or keep HOST=127.0.0.1 and put a reverse proxy with HTTPS in front (README, "The dashboard › HTTPS").`);
  process.exit(78);
}

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

const adminAuth = adminUser ? `\n  adminAuth: { type: 'credentials', users: [{ username: ${JSON.stringify(adminUser)}, password: ${JSON.stringify(adminHash)}, permissions: '*' }] },` : '';
writeFileSync(
  join(userDir, 'settings.js'),
  `module.exports = {${adminAuth}
  uiHost: ${JSON.stringify(host)},
  uiPort: ${port},
  flowFile: 'flows.json',
  credentialSecret: ${JSON.stringify(credentialSecret)},
  contextStorage: { default: { module: 'localfilesystem' } },
  logging: { console: { level: 'info' } },
};
`,
  { mode: 0o600 },
);
if (dryRun) {
  console.log(`npm start --dry-run: settings written to ${join(userDir, 'settings.js')}`);
  process.exit(0);
}

const red = spawn(process.execPath, [join(root, 'node_modules', 'node-red', 'red.js'), '--userDir', userDir, '--settings', join(userDir, 'settings.js')], {
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, DMS3_TOKEN: token },
});
let announced = false;
red.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  if (!announced && /Started flows|Server now running/.test(chunk.toString())) {
    announced = true;
    // The hub token stays on this machine: it is not printed. Each Pi gets its own token (hub node › Add agent).
    console.log(`\nDMS3 server flow running.\n  Editor:     http://${host}:${port}/${adminUser ? `  (user ${adminUser})` : ''}\n  Dashboard:  http://${host}:${port}/dms3/  (sign in with the hub token, kept in ${tokenSource}, or set a dashboard password in the hub node)\n  Agents:     give each Pi its own token: double-click the DMS3 hub, Add agent\n`);
  }
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => red.kill(sig));
red.on('exit', (code) => process.exit(code ?? 0));
