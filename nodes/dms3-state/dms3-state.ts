// dms3-state: the policy node. Combines presence, Always On and manual override into the one
// surveillance decision, keeps it across restarts (node context) and emits it on every change.
import { combineHome, decide, isOverride, REASON_TEXT, type Override, type StatePayload, type Surveillance } from '../../lib/policy';
import type { PresenceDevice } from '../../lib/dashboard';
import type { HubNode } from '../dms3-server/hub';
import type { Node, NodeAPI, NodeDef, NodeMessage } from '../shared/red';

interface StateDef extends NodeDef {
  startup?: string;
  server?: string; // optional dms3-server hub that pushes each decision to the agents
}

interface Stored {
  override: Override;
  last: StatePayload | null;
}

export = function (RED: NodeAPI) {
  function StateNode(this: Node, config: StateDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const startup: Surveillance = config.startup === 'stop' ? 'stop' : 'start';
    const stored = (node.context().get('dms3') as Stored | undefined) ?? { override: 'auto', last: null };
    const homeBySource = new Map<string, boolean | null>();
    const devicesBySource = new Map<string, PresenceDevice[]>(); // who is home, for the hub's dashboard
    let alwaysOn = false;
    let override: Override = isOverride(stored.override) ? stored.override : 'auto';
    // After a restart the last decision holds until presence speaks again.
    let current: StatePayload | null = stored.last;
    const hub = config.server ? ((RED.nodes.getNode(config.server) as (Node & HubNode) | null)?.hub ?? null) : null;
    if (config.server && !hub) node.warn('the dms3-server hub is not running (see its error): agents will not hear the decisions');

    function showStatus() {
      if (!current) return;
      const text = `${current.state === 'start' ? 'armed' : 'stopped'}: ${REASON_TEXT[current.reason]}`;
      node.status({ fill: current.state === 'start' ? 'red' : 'green', shape: override === 'auto' ? 'dot' : 'ring', text });
    }

    function evaluate(send: (msg: NodeMessage) => void, force = false) {
      const home = homeBySource.size > 0 ? combineHome(homeBySource.values()) : null;
      const startState = current?.state ?? startup;
      const d = decide({ home, alwaysOn, override, startup: startState });
      const changed = !current || d.state !== current.state || d.reason !== current.reason || override !== current.override;
      if (changed) current = { state: d.state, reason: d.reason, since: current && current.state === d.state ? current.since : new Date().toISOString(), override };
      node.context().set('dms3', { override, last: current } satisfies Stored);
      showStatus();
      if (changed || force) {
        send({ topic: 'state', payload: { ...current! } });
        hub?.publish(current!);
      }
    }

    function apply(msg: NodeMessage): void {
      const p = msg.payload as Record<string, unknown> | string | undefined;
      switch (msg.topic) {
        case 'presence': {
          const home = (p as Record<string, unknown> | undefined)?.home;
          if (home !== true && home !== false && home !== null) throw new Error(`msg.payload.home ${JSON.stringify(home)}: expected true, false or null`);
          const source = String((p as Record<string, unknown>).source ?? msg.source ?? 'presence');
          homeBySource.set(source, home);
          const devices = (p as Record<string, unknown>).devices;
          if (Array.isArray(devices)) devicesBySource.set(source, devices.filter((d) => typeof d?.name === 'string').map((d) => ({ name: d.name, present: typeof d.present === 'boolean' ? d.present : null })));
          hub?.setPresence([...devicesBySource.values()].flat());
          return;
        }
        case 'always-on': {
          const active = (p as Record<string, unknown> | undefined)?.active;
          if (typeof active !== 'boolean') throw new Error(`msg.payload.active ${JSON.stringify(active)}: expected true or false`);
          alwaysOn = active;
          return;
        }
        case 'override': {
          const mode = typeof p === 'object' && p !== null ? p.mode : p;
          if (!isOverride(mode)) throw new Error(`msg.payload ${JSON.stringify(mode)}: override must be "start", "stop" or "auto"`);
          override = mode;
          return;
        }
        default:
          throw new Error(`msg.topic ${JSON.stringify(msg.topic)}: expected "presence", "always-on" or "override"`);
      }
    }

    node.on('input', (msg, send, done) => {
      try {
        apply(msg);
      } catch (err) {
        node.status({ fill: 'red', shape: 'ring', text: (err as Error).message.slice(0, 60) });
        done(err as Error);
        return;
      }
      evaluate(send);
      done();
    });

    // The hub's override API: applied exactly like an override message (kept, emitted, published).
    const unbind = hub?.bindState((mode) => {
      apply({ topic: 'override', payload: mode });
      evaluate((m) => node.send(m));
    });

    node.on('close', (_removed, done) => {
      clearTimeout(initial);
      unbind?.();
      done();
    });

    // Announce the decision in force at deploy time, so downstream (and agents) start in step.
    const initial = setTimeout(() => evaluate((m) => node.send(m), true), 0);
  }
  RED.nodes.registerType('dms3-state', StateNode);
};
