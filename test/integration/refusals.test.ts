// A refused body still gets its answer: through a byte forwarder (as the namespace tests reach Node-RED),
// a client that sends 1 MiB too much with "Connection: close" reads the hub's 413, never a reset.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeToken } from '../support/agent-process';
import { unixRequest } from '../support/node-red-process';
import { forward } from '../support/ns-proxy';
import { HubRig } from '../support/real-hub';

describe('refusals of bodies the hub does not read (real Node-RED)', () => {
  const rig = new HubRig({ token: makeToken() });
  let proxy: ReturnType<typeof forward>;
  const sock = () => join(rig.dir, 'red.sock');
  before(async () => {
    await rig.start();
    await new Promise<void>((resolve) => {
      proxy = forward(`unix:${sock()}`, `tcp:127.0.0.1:${rig.red.port}`, resolve);
    });
  });
  after(async () => {
    await new Promise((r) => proxy.close(r));
    await rig.close();
  });

  it('answers 413 to 1 MiB of JSON, 20 times in a row, through a forwarder', async () => {
    const answers: (number | string)[] = [];
    for (let i = 0; i < 20; i++) {
      const headers = { 'content-type': 'application/json', authorization: `Bearer ${rig.opts.token}`, connection: 'close' };
      answers.push(await unixRequest(sock(), 'POST', '/dms3/api/report', headers, Buffer.alloc(1024 * 1024, 0x7b)).then((a) => a.status, (err: Error) => err.message));
    }
    assert.deepEqual(answers, Array.from({ length: 20 }, () => 413));
  });
});
