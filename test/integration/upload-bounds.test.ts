// The upload attack of round 1 against a real Node-RED at the product's defaults: one agent token holding
// 64 uploads of 24 MB open one byte short, and the hub token doing the same under 64 agent names. The
// hub reads at most 4 per agent, 16 in all and 64 MiB at once (a declared size is reserved whole), refuses the rest (429/503 with
// Retry-After), cuts the stalled ones (408), keeps answering, and its memory stays bounded.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { makeToken, until } from '../support/agent-process';
import { makeJpeg } from '../support/images';
import { HubRig } from '../support/real-hub';

const SIZE = 24 * 1024 * 1024;
const RSS_BOUND = 300 * 1024 * 1024;

function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

describe('upload bounds (real Node-RED, product defaults)', () => {
  const kitchenToken = makeToken();
  const rig = new HubRig({ token: makeToken(), agentTokens: { kitchen: kitchenToken }, extraNodes: [{ id: 'ev1', type: 'dms3-event', z: 'tab1', name: '', server: 'hub1', wires: [[]] }] });
  before(() => rig.start());
  after(() => rig.close());

  /** Sends all of a 24 MB upload but its last byte, then waits; resolves with the status (or "reset"). */
  function stalled(agent: string, token: string): Promise<number | 'reset'> {
    const url = new URL(`${rig.httpUrl}/event?agent=${agent}&camera=1&event=1&kind=picture`);
    return new Promise((resolve) => {
      const req = request(url, { method: 'POST', agent: false, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'image/jpeg', 'Content-Length': SIZE } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on('error', () => resolve('reset'));
      req.write(Buffer.alloc(SIZE - 1, 0xff));
    });
  }

  it('64 + 64 stalled uploads of 24 MB: refused or cut, the state still answered, RSS under 300 MB', async (t) => {
    const pid = rig.red.child!.pid!;
    const before = rss(pid);
    let max = before;
    const sampler = setInterval(() => (max = Math.max(max, rss(pid))), 100);
    const started = Date.now();
    const answers = await Promise.all([...Array.from({ length: 64 }, () => stalled('kitchen', kitchenToken)), ...Array.from({ length: 64 }, (_, i) => stalled(`shared-${i}`, rig.opts.token))]);
    const state = await rig.api('GET', '/api/state');
    clearInterval(sampler);
    const count = (xs: (number | string)[]) => Object.fromEntries([...new Set(xs)].map((x) => [x, xs.filter((y) => y === x).length]));
    const own = count(answers.slice(0, 64));
    const shared = count(answers.slice(64));
    t.diagnostic(`agent token: ${JSON.stringify(own)}; hub token: ${JSON.stringify(shared)}; RSS ${Math.round(before / 1048576)} → max ${Math.round(max / 1048576)} MiB; all answered after ${((Date.now() - started) / 1000).toFixed(1)} s`);
    // Nothing accepted; at most 4 of one agent and 64 MiB (two of these) read at once, all others refused
    // before their bodies were read (a refusal while the client still sends may reach it as a reset).
    for (const [who, c] of [['agent token', own], ['hub token', shared]] as const) {
      assert.equal((c[408] ?? 0) + (c[429] ?? 0) + (c[503] ?? 0) + (c.reset ?? 0), 64, `${who}: ${JSON.stringify(c)}`);
    }
    assert.ok((own[408] ?? 0) + (shared[408] ?? 0) <= 2, 'at most 64 MiB of them read at once');
    assert.equal(state.status, 200);
    assert.ok(max < RSS_BOUND, `RSS max ${max} under ${RSS_BOUND}`);
    // Free again: the agent's next picture is accepted.
    await until(async () => {
      const res = await fetch(`${rig.httpUrl}/event?agent=kitchen&camera=1&event=2&kind=picture`, { method: 'POST', headers: { Authorization: `Bearer ${kitchenToken}`, 'Content-Type': 'image/jpeg' }, body: new Uint8Array(makeJpeg(64, 48)) });
      return res.status === 201;
    }, 15_000, 'a good upload accepted');
  });
});
