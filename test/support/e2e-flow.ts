// The end-to-end test flow: the shipped server flow (flows/dms3-server.json) filled in with the test
// bed's settings, plus a "probe" tab that records what the product nodes send (presence, state,
// agent status, events) and serves the record at GET /e2e/log. Product nodes keep their wiring.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface FlowNode {
  id: string;
  type: string;
  z?: string;
  wires?: string[][];
  credentials?: Record<string, string>;
  [key: string]: unknown;
}

export interface FlowSettings {
  token: string;
  heartbeat: number; // s
  presence: { devices: { name: string; macs: string[] }[]; iface: string; range: string; ipv6: boolean; interval: number; grace: number };
  windows: { start: string; end: string; days: number[] }[];
  mail: { host: string; port: number; from: string; to: string; quiet: number; maxWait: number; cooldown: number; retryFirst: number };
}

export const SHIPPED_FLOW = join(__dirname, '..', '..', '..', 'flows', 'dms3-server.json');

export function shippedFlow(): FlowNode[] {
  return JSON.parse(readFileSync(SHIPPED_FLOW, 'utf8')) as FlowNode[];
}

function only(flow: FlowNode[], type: string): FlowNode {
  const found = flow.filter((n) => n.type === type);
  if (found.length !== 1) throw new Error(`the shipped flow has ${found.length} ${type} nodes; the test bed expects one`);
  return found[0];
}

// Keeps the last 5000 messages (file bytes left out) in memory context, with the time they came.
const PROBE = `
const log = global.get('e2e', 'memory') || [];
let payload = msg.payload;
if (payload && typeof payload === 'object' && !Array.isArray(payload)) {
  payload = Object.assign({}, payload);
  if (payload.file) payload.file = { name: payload.file.name, mime: payload.file.mime, size: payload.file.size };
}
log.push({ at: Date.now(), topic: msg.topic, payload });
if (log.length > 5000) log.shift();
global.set('e2e', log, 'memory');
return null;`;

/** The shipped flow with the test settings, and the probe wired to the outputs of the product nodes. */
export function e2eFlow(settings: FlowSettings, shipped: FlowNode[] = shippedFlow()): FlowNode[] {
  const flow: FlowNode[] = shipped.map((n) => ({ ...n, wires: n.wires?.map((w) => [...w]) }));
  const hub = only(flow, 'dms3-server');
  hub.heartbeat = settings.heartbeat;
  hub.credentials = { token: settings.token };
  Object.assign(only(flow, 'dms3-presence-scan'), settings.presence);
  only(flow, 'dms3-always-on').windows = settings.windows;
  const m = settings.mail;
  Object.assign(only(flow, 'dms3-smtp'), { host: m.host, port: m.port, security: 'none', from: m.from });
  Object.assign(only(flow, 'dms3-mail'), { to: m.to, quiet: m.quiet, maxWait: m.maxWait, cooldown: m.cooldown, retryFirst: m.retryFirst });
  only(flow, 'dms3-event');

  const tab = 'e2eprobetab01';
  const probe = 'e2eprobefn001';
  for (const type of ['dms3-presence-scan', 'dms3-state', 'dms3-agents', 'dms3-event']) {
    for (const n of flow.filter((x) => x.type === type)) n.wires = [[...(n.wires?.[0] ?? []), probe]];
  }
  flow.push(
    { id: tab, type: 'tab', label: 'e2e probe', disabled: false, info: 'test only' },
    { id: probe, type: 'function', z: tab, name: 'record', func: PROBE, outputs: 1, x: 300, y: 60, wires: [[]] },
    { id: 'e2eprobein001', type: 'http in', z: tab, name: '', url: '/e2e/log', method: 'get', upload: false, x: 120, y: 120, wires: [['e2eprobefn002']] },
    { id: 'e2eprobefn002', type: 'function', z: tab, name: 'read', func: "msg.payload = global.get('e2e', 'memory') || [];\nreturn msg;", outputs: 1, x: 300, y: 120, wires: [['e2eprobeout01']] },
    { id: 'e2eprobeout01', type: 'http response', z: tab, name: '', statusCode: '', headers: {}, x: 470, y: 120, wires: [] },
  );
  return flow;
}
