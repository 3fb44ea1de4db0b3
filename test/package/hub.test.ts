// The hub in a real Node-RED with the package installed: nodes and editor files load, routes live under
// httpNodeRoot next to the editor's own WebSocket, and redeploys through the admin API leave one hub.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { call, TestAgent } from '../support/agent';
import { startNodeRed, type NodeRed } from '../support/node-red-embedded';

const TOKEN = 'package-test-token-0123456789';
const flows = (heartbeat = 10) => [
  { id: 'tab1', type: 'tab', label: 'DMS3' },
  { id: 'hub1', type: 'dms3-server', name: '', base: '/dms3', heartbeat },
  { id: 'state1', type: 'dms3-state', z: 'tab1', name: '', startup: 'start', server: 'hub1', wires: [[]] },
  { id: 'agents1', type: 'dms3-agents', z: 'tab1', name: '', server: 'hub1', reports: false, wires: [[]] },
];

describe('hub in a real Node-RED', () => {
  let nr: NodeRed;
  before(async () => {
    nr = await startNodeRed({
      flows: flows(),
      credentials: { hub1: { token: TOKEN } },
      httpNodeRoot: '/nr',
      // A configured store keeps node context across redeploys (Node-RED drops it without one).
      settings: { contextStorage: { default: { module: 'memory' } } },
    });
  });
  after(() => nr?.stop());

  const layers = () => (nr.RED.httpNode._router?.stack ?? []).filter((l: any) => l.handle?.name === 'dispatch').length;

  it('registers the nodes with their editor and help', async () => {
    const list = await (await fetch(`${nr.adminUrl}/nodes`, { headers: { Accept: 'application/json' }, signal: AbortSignal.timeout(5000) })).json();
    for (const type of ['dms3-server', 'dms3-agents', 'dms3-state']) {
      const set = list.find((s: any) => s.types.includes(type));
      assert.ok(set, `${type} registered`);
      assert.equal(set.module, 'node-red-contrib-dms3');
      assert.equal(set.err, undefined, `${type}: ${set.err}`);
    }
    const html = await (await fetch(`${nr.adminUrl}/nodes`, { headers: { Accept: 'text/html' }, signal: AbortSignal.timeout(5000) })).text();
    for (const type of ['dms3-server', 'dms3-agents']) {
      assert.ok(html.includes(`data-template-name="${type}"`), `${type} editor`);
      assert.ok(html.includes(`data-help-name="${type}"`), `${type} help`);
    }
  });

  it('serves agents under httpNodeRoot next to the editor comms', async () => {
    const agentUrl = `${nr.url.replace('http', 'ws')}/nr/dms3/agent`;
    const refused = new TestAgent(agentUrl, { token: 'wrong', name: 'x' });
    await assert.rejects(refused.open(), { status: 401 });

    const comms = new WebSocket(`${nr.url.replace('http', 'ws')}/admin/comms`);
    await new Promise((resolve, reject) => {
      comms.once('open', resolve);
      comms.once('error', reject);
    });
    comms.terminate();

    const agent = new TestAgent(agentUrl, { token: TOKEN, name: 'kitchen' });
    await agent.open();
    await agent.until(() => agent.states.length === 1, 5000, 'state after hello');
    const r = await call(`${nr.nodeUrl}/dms3/api/override`, { token: TOKEN, body: { mode: 'stop' } });
    assert.equal(r.status, 200);
    await agent.until(() => agent.states.length === 2, 5000, 'pushed override');
    assert.deepEqual([agent.states[1].state, agent.states[1].reason, agent.states[1].seq], ['stop', 'override', r.json.seq]);
    const list = await call(`${nr.nodeUrl}/dms3/api/agents`, { token: TOKEN });
    assert.equal(list.json[0].name, 'kitchen');
    agent.close();
    assert.equal((await call(`${nr.url}/dms3/api/state`, { token: TOKEN })).status, 404); // only under /nr
  });

  it('keeps one hub across redeploys through the admin API', async () => {
    const agentUrl = `${nr.url.replace('http', 'ws')}/nr/dms3/agent`;
    const agent = new TestAgent(agentUrl, { token: TOKEN, name: 'garage' });
    await agent.open();
    await agent.until(() => agent.states.length === 1);
    await nr.deploy(flows(5));
    assert.equal((await agent.waitClosed()).code, 1001);
    await nr.deploy(flows(6));
    assert.equal(layers(), 1);
    // The override survives the redeploys (kept by dms3-state) and the new hub serves it.
    const again = new TestAgent(agentUrl, { token: TOKEN, name: 'garage' });
    await again.open();
    await again.until(() => again.states.length === 1);
    assert.equal(again.states[0].reason, 'override');
    again.close();
  });
});
