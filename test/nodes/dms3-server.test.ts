import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import agentsNode from '../../nodes/dms3-agents/dms3-agents';
import serverNode from '../../nodes/dms3-server/dms3-server';
import { waitingAgents } from '../../nodes/dms3-server/waiting-agents';
import stateNode from '../../nodes/dms3-state/dms3-state';
import { MAX_MESSAGE_BYTES } from '../../lib/protocol';
import { call, health, TestAgent } from '../support/agent';
import { captureHttpNode, httpNode } from '../support/http-node';
import { collect, delay, helper, waitFor } from '../support/red';

const HUB = 'hub-token-for-tests-0123456789';
const KITCHEN = 'kitchen-token-0123456789abcdef';
const GARAGE = 'garage-token-0123456789abcdef';
const NODES = [captureHttpNode, serverNode, stateNode, agentsNode];

const flow = (hub: Record<string, unknown> = {}) => [
  { id: 'hub', type: 'dms3-server', name: '', base: '/dms3', heartbeat: 10, ...hub },
  { id: 's', type: 'dms3-state', name: '', startup: 'start', server: 'hub', wires: [['out']] },
  { id: 'out', type: 'helper' },
  { id: 'ag', type: 'dms3-agents', name: '', server: 'hub', wires: [['events']] },
  { id: 'events', type: 'helper' },
];
const creds = (c: Record<string, string> = { token: HUB, agentTokens: `kitchen=${KITCHEN}\ngarage=${GARAGE}` }) => ({ hub: c });

const api = (path: string) => `${helper.url()}/dms3${path}`;
const wsUrl = () => `${helper.url().replace(/^http/, 'ws')}/dms3/agent`;
const agents: TestAgent[] = [];

/** kitchen and garage have their own tokens (the hub token may not act as them); others use the hub token. */
const OWN: Record<string, string> = { kitchen: KITCHEN, garage: GARAGE };
async function agent(name: string, token: string | null = OWN[name] ?? HUB, opts: { autoPong?: boolean; hello?: boolean } = {}): Promise<TestAgent> {
  const a = new TestAgent(wsUrl(), { token, name, ...opts });
  agents.push(a);
  await a.open();
  return a;
}

/** The router layers the hub mounted on RED.httpNode. */
function hubLayers(): number {
  return (httpNode()._router?.stack ?? []).filter((l: any) => l.handle?.name === 'dispatch').length;
}

/** Status calls of one node (the helper spies on the shared Node prototype). */
function statuses(id: string): any[] {
  return helper
    .getNode(id)
    .status.getCalls()
    .filter((c: any) => c.thisValue.id === id)
    .map((c: any) => c.args[0]);
}

function errorsLogged(): string[] {
  const log = helper.log();
  return log.args.filter((a: any[]) => a[0].level === log.ERROR).map((a: any[]) => String(a[0].msg));
}

describe('dms3-server hub', () => {
  let baseUpgrades = 0; // Node-RED's own upgrade listeners (comms), and the one for agents that dial early
  before(async () => {
    await helper.startServer();
    waitingAgents(helper._server); // registered once, when the node module loads
    baseUpgrades = helper._server.listenerCount('upgrade');
  });
  afterEach(async () => {
    for (const a of agents.splice(0)) a.close();
    await helper.unload();
  });
  after(() => helper.stopServer());

  it('refuses to start without any token, says why, and serves nothing', async () => {
    const saved = process.env.DMS3_TOKEN;
    delete process.env.DMS3_TOKEN;
    try {
      await helper.load(NODES, flow(), creds({}));
      assert.ok(errorsLogged().some((m) => /not started: no token/.test(m) && /DMS3_TOKEN/.test(m)), `errors: ${errorsLogged().join(' | ')}`);
      assert.equal(helper.getNode('hub').hub, null);
      assert.equal(hubLayers(), 0);
      assert.equal((await call(api('/api/state'), { token: HUB })).status, 404);
      assert.equal(helper._server.listenerCount('upgrade'), baseUpgrades);
      assert.deepEqual(statuses('ag').at(-1), { fill: 'red', shape: 'ring', text: 'hub not started: no token' });
    } finally {
      if (saved !== undefined) process.env.DMS3_TOKEN = saved;
    }
  });

  it('takes the token from DMS3_TOKEN when the credential is empty', async () => {
    const saved = process.env.DMS3_TOKEN;
    process.env.DMS3_TOKEN = 'env-token-0123456789abcdef';
    try {
      await helper.load(NODES, flow(), creds({}));
      await waitFor(() => helper.getNode('hub').hub?.state, 2000, 'first decision');
      assert.equal((await call(api('/api/state'), { token: 'env-token-0123456789abcdef' })).status, 200);
      assert.equal((await call(api('/api/state'), { token: HUB })).status, 401);
    } finally {
      if (saved === undefined) delete process.env.DMS3_TOKEN;
      else process.env.DMS3_TOKEN = saved;
    }
  });

  it('answers a missing or wrong token with 401 before the upgrade', async () => {
    await helper.load(NODES, flow(), creds());
    await assert.rejects(agent('pi', null), { status: 401 });
    await assert.rejects(agent('pi', 'wrong-token'), { status: 401 });
    await assert.rejects(agent('pi', `${HUB}x`), { status: 401 });
    const r = await call(api('/api/state'), { token: 'wrong' });
    assert.equal(r.status, 401);
    assert.match(r.json.error, /token/);
    assert.equal((await call(api('/api/state'))).status, 401);
    assert.equal(helper.getNode('hub').hub.registry.counts().total, 0);
    // The log names the refusal but never a token.
    const logged = helper
      .log()
      .args.map((a: any[]) => String(a[0].msg))
      .join('\n');
    assert.match(logged, /refused: missing or wrong token/);
    assert.ok(!logged.includes('wrong-token') && !logged.includes(HUB));
  });

  it('pushes each decision to every connected agent at once, and the current state right after hello', async () => {
    await helper.load(NODES, flow(), creds());
    const hub = helper.getNode('hub').hub;
    await waitFor(() => hub.state, 2000, 'first decision');
    const [a, b, c] = await Promise.all([agent('kitchen'), agent('garage'), agent('attic')]);
    for (const x of [a, b, c]) await x.until(() => x.states.length === 1, 5000, 'state after hello');
    assert.deepEqual(
      [a, b, c].map((x) => [x.states[0].state, x.states[0].reason, x.states[0].seq]),
      [a, b, c].map(() => ['start', 'startup', hub.state.seq]),
    );

    helper.getNode('s').receive({ topic: 'presence', payload: { home: true } });
    await Promise.all([a, b, c].map((x) => x.until(() => x.states.length === 2, 5000, 'pushed state')));
    for (const x of [a, b, c]) {
      assert.equal(x.states[1].state, 'stop');
      assert.equal(x.states[1].reason, 'someone-home');
      assert.equal(x.states[1].seq, x.states[0].seq + 1);
    }

    // A latecomer gets the state in force, not the start-up one.
    const d = await agent('porch');
    await d.until(() => d.states.length === 1);
    assert.deepEqual([d.states[0].state, d.states[0].seq], ['stop', a.states[1].seq]);

    // Every "applied" reaches the registry.
    const seq = a.states[1].seq;
    await waitFor(() => hub.registry.list().filter((e: any) => e.appliedSeq === seq).length === 4, 5000, 'all applied');
    const r = await call(api('/api/agents'), { token: HUB });
    assert.equal(r.status, 200);
    const kitchen = r.json.find((e: any) => e.name === 'kitchen');
    const expected = health({ hostname: 'kitchen' });
    for (const k of ['hostname', 'platform', 'osRelease', 'arch', 'kernel', 'agentVersion', 'uptime', 'events', 'reportInterval'] as const) {
      assert.equal(kitchen[k], expected[k], k);
    }
    assert.equal(kitchen.connected, true);
    assert.equal(kitchen.transport, 'ws');
    assert.equal(kitchen.address, '127.0.0.1');
    assert.equal(kitchen.applied, 'stop');
    assert.equal(kitchen.appliedSeq, seq);
    assert.equal(kitchen.motion, 'paused');
    assert.equal(kitchen.late, false);
    assert.ok(!Number.isNaN(Date.parse(kitchen.lastReport)));
    assert.equal(r.json.length, 4);
  });

  it('POST /api/override sets the state node, which emits, keeps it, and pushes it to the agents', async () => {
    await helper.load(NODES, flow(), creds());
    const out = collect(helper.getNode('out'));
    await waitFor(() => out.length === 1, 2000, 'first decision');
    const a = await agent('kitchen');
    await a.until(() => a.states.length === 1);

    const r = await call(api('/api/override'), { token: HUB, body: { mode: 'stop' } });
    assert.equal(r.status, 200);
    assert.deepEqual([r.json.state, r.json.reason, r.json.override], ['stop', 'override', 'stop']);
    await waitFor(() => out.length === 2, 2000, 'state node output');
    assert.deepEqual([out[1].payload.state, out[1].payload.reason, out[1].payload.override], ['stop', 'override', 'stop']);
    await a.until(() => a.states.length === 2);
    assert.deepEqual([a.states[1].state, a.states[1].seq], ['stop', r.json.seq]);

    const state = await call(api('/api/state'), { token: GARAGE }); // any agent token may read it
    assert.equal(state.status, 200);
    assert.deepEqual(Object.keys(state.json).sort(), ['override', 'reason', 'seq', 'since', 'state']);
    assert.equal(state.json.seq, r.json.seq);

    const bad = await call(api('/api/override'), { token: HUB, body: { mode: 'sometimes' } });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /mode "sometimes"/);
    assert.equal((await call(api('/api/override'), { token: HUB, body: '{not json' })).status, 400);
    assert.equal((await call(api('/api/override'), { token: HUB, body: { mode: 'x'.repeat(70_000) } })).status, 413);
    assert.equal((await call(api('/api/override'), { token: 'nope', body: { mode: 'start' } })).status, 401);
    assert.equal((await call(api('/api/override'), { token: KITCHEN, body: { mode: 'start' } })).status, 403);
    assert.equal((await call(api('/api/agents'), { token: KITCHEN })).status, 403);
    assert.equal(out.length, 2);

    await call(api('/api/override'), { token: HUB, body: { mode: 'auto' } });
    await waitFor(() => out.length === 3);
    assert.equal(out[2].payload.override, 'auto');
  });

  it('a per-agent token works only for its own name, and can be revoked alone', async () => {
    await helper.load(NODES, flow(), creds());
    const kitchen = await agent('kitchen', KITCHEN);
    await kitchen.until(() => kitchen.states.length === 1);
    const impostor = await agent('garage', KITCHEN);
    const closed = await impostor.waitClosed();
    assert.equal(closed.code, 1008);
    assert.match(closed.reason, /belongs to agent "kitchen"/);
    const report = await call(api('/api/report'), { token: KITCHEN, body: { v: 1, type: 'hello', name: 'garage', health: health() } });
    assert.equal(report.status, 403);
    // A name with its own token cannot be taken over with the shared hub token either.
    const displacer = await agent('kitchen', HUB);
    const refused = await displacer.waitClosed();
    assert.equal(refused.code, 1008);
    assert.match(refused.reason, /"kitchen" has its own token/);
    assert.equal(helper.getNode('hub').hub.registry.get('kitchen').connected, true, 'the real kitchen keeps its connection');
    assert.equal((await call(api('/api/report'), { token: HUB, body: { v: 1, type: 'health', health: health() }, headers: { 'X-DMS3-Agent': 'kitchen' } })).status, 403);

    // Revoke the kitchen: deploy the hub without its line.
    for (const a of agents.splice(0)) a.close();
    await helper.unload();
    await helper.load(NODES, flow(), creds({ token: HUB, agentTokens: `garage=${GARAGE}` }));
    await assert.rejects(agent('kitchen', KITCHEN), { status: 401 });
    const garage = await agent('garage', GARAGE);
    await garage.until(() => garage.states.length === 1);
    assert.equal(helper.getNode('hub').hub.registry.get('garage').connected, true);
  });

  it('closes a connection that sends bad JSON, an invalid message or an oversized frame; others keep working', async () => {
    await helper.load(NODES, flow(), creds());
    const good = await agent('good');
    await good.until(() => good.states.length === 1);

    const cases: [string | (() => void), number, RegExp][] = [
      ['{not json', 1008, /not JSON/],
      [JSON.stringify({ v: 1, type: 'hello', name: 'x', health: { hostname: 'x' } }), 1008, /malformed/],
      [JSON.stringify({ v: 2, type: 'hello' }), 1008, /protocol version 2/],
      [JSON.stringify({ v: 1, type: 'health', health: health() }), 1008, /expected hello first/],
      ['x'.repeat(MAX_MESSAGE_BYTES + 1), 1009, /too large/],
    ];
    for (const [payload, code, reason] of cases) {
      const bad = await agent('bad', HUB, { hello: false });
      bad.send(payload);
      const closed = await bad.waitClosed();
      assert.equal(closed.code, code, `${String(payload).slice(0, 30)}: ${closed.reason}`);
      assert.match(closed.reason, reason);
    }
    const twice = await agent('twice');
    twice.send({ v: 1, type: 'hello', name: 'twice', health: health() });
    assert.match((await twice.waitClosed()).reason, /hello sent twice/);

    helper.getNode('s').receive({ topic: 'presence', payload: { home: true } });
    await good.until(() => good.states.length === 2);
    assert.equal(good.closed, null);
    assert.equal((await call(api('/api/state'), { token: HUB })).json.state, 'stop');
    assert.ok(helper.log().args.some((a: any[]) => /closed: agent message is not JSON/.test(String(a[0].msg))));
  });

  it('drops an agent that stops answering pings, and dms3-agents reports it', async () => {
    await helper.load(NODES, flow({ heartbeat: 0.5 }), creds());
    const events = collect(helper.getNode('events'));
    const alive = await agent('alive');
    const dead = await agent('dead', HUB, { autoPong: false });
    await waitFor(() => events.filter((m) => m.payload.event === 'connected').length === 2, 5000, 'two connected');
    const gone = await waitFor(() => events.find((m) => m.payload.event === 'disconnected'), 5000, 'disconnected event');
    assert.equal(gone.topic, 'agent');
    assert.equal(gone.payload.agent.name, 'dead');
    assert.equal(gone.payload.agent.connected, false);
    assert.match(gone.payload.detail, /no answer to ping/);
    await dead.waitClosed();
    await delay(1200); // more heartbeats: the live one stays
    assert.equal(alive.closed, null);
    const hub = helper.getNode('hub').hub;
    assert.deepEqual(hub.registry.counts(), { total: 2, connected: 1 });
    assert.equal(statuses('ag').at(-1).text, '2 agents, 1 connected');
  });

  it('reports agent changes into the flow and answers an input with the list', async () => {
    await helper.load(NODES, flow(), creds());
    const events = collect(helper.getNode('events'));
    const a = await agent('kitchen');
    await a.until(() => a.states.length === 1);
    a.send({ v: 1, type: 'applied', seq: a.states[0].seq, state: 'start', ok: false, motion: 'failed', error: 'motion: command not found' });
    a.send({ v: 1, type: 'notice', event: 'server-lost', at: new Date().toISOString(), text: 'no server for 120 s: started Motion' });
    a.send({ v: 1, type: 'health', health: health({ motion: 'running' }) });
    await waitFor(() => events.some((m) => m.payload.event === 'server-lost'), 5000, 'server-lost');
    await waitFor(() => events.some((m) => m.payload.event === 'motion'), 5000, 'motion change');
    const kinds = events.map((m) => m.payload.event);
    assert.deepEqual(kinds.slice(0, 4), ['connected', 'applied', 'apply-failed', 'server-lost']);
    assert.ok(!kinds.includes('health'), 'routine reports are not sent unless asked for');
    const failed = events.find((m) => m.payload.event === 'apply-failed')!;
    assert.equal(failed.payload.detail, 'motion: command not found');
    assert.equal(failed.payload.agent.error, 'motion: command not found');

    helper.getNode('ag').receive({ payload: 'list' });
    const list = await waitFor(() => events.find((m) => m.topic === 'agents'), 2000, 'list');
    assert.equal(list.payload.length, 1);
    assert.equal(list.payload[0].name, 'kitchen');
  });

  it('lets a polling agent report over HTTP and answers with the state', async () => {
    await helper.load(NODES, flow(), creds());
    const hub = helper.getNode('hub').hub;
    await waitFor(() => hub.state, 2000, 'first decision');
    const hello = await call(api('/api/report'), { token: HUB, body: { v: 1, type: 'hello', name: 'shed', health: health() } });
    assert.equal(hello.status, 200);
    assert.equal(hello.json.state, 'start');
    const entry = hub.registry.get('shed');
    assert.deepEqual([entry.transport, entry.connected], ['http', true]);

    const applied = { v: 1, type: 'applied', seq: hello.json.seq, state: 'start', ok: true, motion: 'running' };
    assert.equal((await call(api('/api/report'), { token: HUB, body: applied })).status, 400); // who?
    assert.equal((await call(api('/api/report'), { token: HUB, body: applied, headers: { 'X-DMS3-Agent': 'shed' } })).status, 200);
    assert.equal(hub.registry.get('shed').appliedSeq, hello.json.seq);
    assert.equal((await call(api('/api/report'), { token: HUB, body: applied, headers: { 'X-DMS3-Agent': 'nobody' } })).status, 409);
    assert.equal((await call(api('/api/report'), { token: HUB, body: applied, headers: { 'X-DMS3-Agent': 'n'.repeat(65) } })).status, 400);
    // An agent token names its agent by itself.
    assert.equal((await call(api('/api/report'), { token: GARAGE, body: { v: 1, type: 'health', health: health() } })).status, 200);
    assert.equal(hub.registry.get('garage').transport, 'http');

    const bad = await call(api('/api/report'), { token: HUB, body: { v: 1, type: 'hello', name: 'shed' } });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /malformed/);
    assert.equal((await call(api('/api/report'), { token: HUB, body: 'x'.repeat(MAX_MESSAGE_BYTES + 10) })).status, 413);
    assert.equal((await call(api('/api/report'), { body: applied })).status, 401);
  });

  it('removes routes, upgrade handler and sockets on close; a redeploy does not duplicate them', async () => {
    await helper.load(NODES, flow(), creds());
    const a = await agent('kitchen');
    await a.until(() => a.states.length === 1);
    for (let i = 0; i < 2; i++) {
      await helper.setFlows(flow({ heartbeat: 5 + i }), 'full', creds());
      await waitFor(() => helper.getNode('hub')?.hub?.state, 5000, 'redeployed hub');
    }
    assert.equal((await a.waitClosed()).code, 1001);
    assert.equal(hubLayers(), 1);
    assert.equal(helper._server.listenerCount('upgrade'), baseUpgrades + 1);
    const b = await agent('kitchen');
    await b.until(() => b.states.length === 1);
    assert.equal((await call(api('/api/agents'), { token: HUB })).json.length, 1);

    await helper.unload();
    assert.equal((await b.waitClosed()).code, 1001);
    assert.equal(hubLayers(), 0);
    assert.equal(helper._server.listenerCount('upgrade'), baseUpgrades);
    assert.equal((await call(api('/api/state'), { token: HUB })).status, 404);
  });
});
