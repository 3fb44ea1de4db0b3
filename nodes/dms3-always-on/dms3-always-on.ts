// dms3-always-on: time-of-day windows that force surveillance on. Emits on every change and
// re-evaluates exactly at the next window edge (plus an hourly check, so a clock that jumps is caught).
import { activeWindow, nextChange, parseWindows, type Window } from '../../lib/schedule';
import type { Node, NodeAPI, NodeDef } from '../shared/red';

interface AlwaysOnDef extends NodeDef {
  windows?: unknown;
}

const MAX_SLEEP_MS = 60 * 60 * 1000;

function hhmm(d: Date): string {
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

export = function (RED: NodeAPI) {
  function AlwaysOnNode(this: Node, config: AlwaysOnDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    let timer: NodeJS.Timeout | undefined;
    let windows: Window[];
    try {
      windows = parseWindows(config.windows ?? []);
    } catch (err) {
      node.status({ fill: 'red', shape: 'ring', text: (err as Error).message });
      node.error(`invalid Always On configuration: ${(err as Error).message}`);
      node.on('input', (_msg, _send, done) => done(new Error(`invalid Always On configuration: ${(err as Error).message}`)));
      return;
    }
    let last: boolean | null = null;

    function payload(now: Date) {
      const w = activeWindow(windows, now);
      const next = nextChange(windows, now);
      return { active: w !== null, window: w?.label ?? null, nextChange: next?.toISOString() ?? null };
    }

    function showStatus(p: ReturnType<typeof payload>) {
      if (windows.length === 0) {
        node.status({ fill: 'grey', shape: 'ring', text: 'no windows' });
        return;
      }
      const next = p.nextChange ? hhmm(new Date(p.nextChange)) : '—';
      node.status(p.active ? { fill: 'green', shape: 'dot', text: `on (${p.window}) until ${next}` } : { fill: 'grey', shape: 'dot', text: `off, next ${next}` });
    }

    function evaluate(force: boolean) {
      const now = new Date();
      const p = payload(now);
      showStatus(p);
      if (force || p.active !== last) {
        last = p.active;
        node.send({ topic: 'always-on', payload: p });
      }
      clearTimeout(timer);
      const wait = p.nextChange ? Math.max(0, new Date(p.nextChange).getTime() - now.getTime()) : MAX_SLEEP_MS;
      // Fire a little after the edge so the new minute is already in effect.
      timer = setTimeout(() => evaluate(false), Math.min(wait + 50, MAX_SLEEP_MS));
    }

    node.on('input', (_msg, send, done) => {
      const p = payload(new Date());
      showStatus(p);
      send({ topic: 'always-on', payload: p });
      done();
    });
    node.on('close', (_removed, done) => {
      clearTimeout(timer);
      done();
    });
    // Announce the initial answer once the flow is wired up.
    timer = setTimeout(() => evaluate(true), 0);
  }
  RED.nodes.registerType('dms3-always-on', AlwaysOnNode);
};
