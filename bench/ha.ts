// Home Assistant nodes on the real Node-RED runtime against the protocol-faithful stand-in (loopback):
// deploy → first presence, entity change → presence message, state input → event + boolean in HA,
// and Home Assistant back up after a restart → first message (event-driven timestamps, no polling). Writes bench/results-ha.json.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import serverNode from '../nodes/dms3-ha-server/dms3-ha-server';
import presenceNode from '../nodes/dms3-ha-presence/dms3-ha-presence';
import stateNode from '../nodes/dms3-ha-state/dms3-ha-state';
import { HaTestServer } from '../test/support/ha-server';
import { delay, helper } from '../test/support/red';

const TOKEN = 'bench-token';
const NODES = [serverNode, presenceNode, stateNode];
const DOWN_MS = 2500; // a Home Assistant restart takes longer; this shows the reconnect backoff

/** Resolves with the time (performance.now) at which `emitter` next emits `event` matching `pick`. */
function when(emitter: { on(e: string, h: (v: any) => void): unknown }, event: string, pick: (v: any) => boolean = () => true, ms = 30_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    const h = (v: any) => {
      if (!pick(v)) return;
      clearTimeout(timer);
      (emitter as any).removeListener(event, h);
      resolve(performance.now());
    };
    emitter.on(event, h);
  });
}

function stats(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number) => Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))] * 10) / 10;
  return { n: s.length, median_ms: q(0.5), p95_ms: q(0.95), max_ms: q(1) };
}

async function main() {
  const ha = new HaTestServer({ tokens: [TOKEN] });
  await ha.start();
  ha.setState('person.alice', 'not_home');
  ha.setState('input_boolean.dms3_armed', 'off');
  const flow = () => [
    { id: 'srv', type: 'dms3-ha-server', url: ha.url, keepalive: 30 },
    { id: 'p', type: 'dms3-ha-presence', server: 'srv', entities: ['person.alice'], wires: [['out']] },
    { id: 's', type: 'dms3-ha-state', server: 'srv', boolean: 'input_boolean.dms3_armed', override: '', wires: [[]] },
    { id: 'out', type: 'helper' },
  ];

  const firstReport: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    await helper.load(NODES, flow(), { srv: { token: TOKEN } });
    firstReport.push((await when(helper.getNode('out'), 'input')) - t0);
    await helper.unload();
  }

  await helper.load(NODES, flow(), { srv: { token: TOKEN } });
  const out = helper.getNode('out');
  await when(out, 'input');
  const change: number[] = [];
  for (let i = 0; i < 50; i++) {
    const home = ha.states.get('person.alice')!.state !== 'home';
    const got = when(out, 'input', (m) => m.payload.home === home);
    const t0 = performance.now();
    ha.setState('person.alice', home ? 'home' : 'not_home');
    change.push((await got) - t0);
  }

  const push: number[] = [];
  const s = helper.getNode('s');
  for (let i = 0; i < 50; i++) {
    const want = i % 2 === 0 ? 'on' : 'off';
    const set = when(ha, 'bus', (e) => e.event_type === 'state_changed' && e.data.new_state?.state === want);
    const t0 = performance.now();
    s.receive({ topic: 'state', payload: { state: want === 'on' ? 'start' : 'stop', reason: 'override', since: new Date(Date.now() + i).toISOString(), override: 'auto' } });
    push.push((await set) - t0);
  }

  const restart: number[] = [];
  for (let i = 0; i < 3; i++) {
    await ha.stop();
    const home = ha.states.get('person.alice')!.state !== 'home';
    ha.setState('person.alice', home ? 'home' : 'not_home');
    await delay(DOWN_MS);
    const got = when(out, 'input', (m) => m.payload.home === home);
    await ha.start();
    const t0 = performance.now();
    restart.push((await got) - t0);
  }
  await helper.unload();
  await ha.stop();

  const results = {
    note: 'loopback, Home Assistant stand-in (test/support/ha-server.ts), real Node-RED runtime via node-red-node-test-helper',
    deploy_to_first_presence: stats(firstReport),
    entity_change_to_presence_msg: stats(change),
    state_input_to_boolean_set: stats(push),
    ha_back_up_to_presence_msg: { ...stats(restart), after_down_ms: DOWN_MS, why: 'the library retries after 0, 1, 2, 3, 4, 5, 5 … s' },
  };
  console.log(JSON.stringify(results, null, 2));
  writeFileSync(join(__dirname, '..', '..', 'bench', 'results-ha.json'), JSON.stringify(results, null, 2) + '\n');
  await helper.stopServer();
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
