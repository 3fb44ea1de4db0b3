// dms3-state: the policy node. Combines presence, Always On and manual override into the one
// surveillance decision, keeps it durably in its own file under Node-RED's user directory before it
// answers or emits it, and emits it on every change.
import { join } from 'node:path';
import { isOverride, parseKept, PolicyState, REASON_TEXT, type KeptState, type StatePayload, type Surveillance } from '../../lib/policy';
import type { PresenceDevice } from '../../lib/dashboard';
import type { HubNode } from '../dms3-server/hub';
import { HttpError } from '../dms3-server/http';
import type { Node, NodeAPI, NodeDef, NodeMessage } from '../shared/red';
import { KeptFile } from './kept-file';

interface StateDef extends NodeDef {
  startup?: string;
  server?: string; // optional dms3-server hub that pushes each decision to the agents
}

/** The key under which older versions kept the state in the node context (migrated once). */
const OLD_CONTEXT_KEY = 'dms3';

export = function (RED: NodeAPI) {
  /** Where a state node keeps its override and decision, or null without a user directory (tests). */
  function keptFile(node: Node): KeptFile | null {
    return RED.settings.userDir ? new KeptFile(join(RED.settings.userDir, 'dms3', `state-${node.id.replace(/[^A-Za-z0-9_-]/g, '_')}.json`)) : null;
  }

  /** The kept state from the node's file, else (once) from the old context key; null for a fresh start. */
  function restore(node: Node, file: KeptFile | null): KeptState | null {
    let fromFile: unknown;
    try {
      fromFile = file?.read();
    } catch (err) {
      node.warn(`the kept state is unreadable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): starting from the start-up state`);
      return null;
    }
    if (fromFile !== undefined) {
      const kept = parseKept(fromFile);
      if (!kept) node.warn('the kept state is not a state: starting from the start-up state');
      return kept;
    }
    const old = node.context().get(OLD_CONTEXT_KEY);
    if (old === undefined) return null;
    const kept = parseKept(old);
    if (kept && file) {
      try {
        file.write(kept);
        node.context().set(OLD_CONTEXT_KEY, undefined); // taken over: never read again
      } catch (err) {
        node.warn(`could not move the state out of the node context: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    }
    return kept;
  }

  function StateNode(this: Node, config: StateDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const startup: Surveillance = config.startup === 'stop' ? 'stop' : 'start';
    const file = keptFile(node);
    if (!file) node.warn('Node-RED has no user directory: the override and decision are not kept across restarts');
    const policy = new PolicyState(startup, restore(node, file));
    let written = file ? JSON.stringify(policy.kept) : '';
    let keepError: string | null = null;
    const devicesBySource = new Map<string, PresenceDevice[]>(); // who is home, for the hub's dashboard
    let current: StatePayload | null = null;
    const hub = config.server ? ((RED.nodes.getNode(config.server) as (Node & HubNode) | null)?.hub ?? null) : null;
    if (config.server && !hub) node.warn('the dms3-server hub is not running (see its error): agents will not hear the decisions');

    function showStatus() {
      if (keepError) return node.status({ fill: 'red', shape: 'ring', text: `not kept: ${keepError}`.slice(0, 60) });
      if (!current) return;
      const text = `${current.state === 'start' ? 'armed' : 'stopped'}: ${REASON_TEXT[current.reason]}`;
      // Armed is not an error: Node-RED's red is kept for what needs the user.
      node.status({ fill: current.state === 'start' ? 'blue' : 'green', shape: policy.override === 'auto' ? 'dot' : 'ring', text });
    }

    /** Writes the override and decision if they changed; returns an error text when they could not be kept. */
    function keep(): string | null {
      if (!file) return null;
      const text = JSON.stringify(policy.kept);
      if (text === written && !keepError) return null;
      try {
        file.write(policy.kept);
        written = text;
        keepError = null;
      } catch (err) {
        keepError = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        node.error(`the decision is in force but not kept across a restart: ${keepError}`);
      }
      return keepError;
    }

    /**
     * Decides for the inputs now; keeps the result on disk, then emits and publishes it when it changed.
     * A failed write does not hold the decision back (the house follows its inputs), but is reported.
     */
    function evaluate(send: (msg: NodeMessage) => void, force = false): string | null {
      const { payload, changed } = policy.evaluate();
      current = payload;
      const problem = keep();
      showStatus();
      if (changed || force) {
        send({ topic: 'state', payload: { ...payload } });
        hub?.publish(payload);
      }
      return problem;
    }

    function apply(msg: NodeMessage): void {
      const p = msg.payload as Record<string, unknown> | string | undefined;
      switch (msg.topic) {
        case 'presence': {
          const home = (p as Record<string, unknown> | undefined)?.home;
          if (home !== true && home !== false && home !== null) throw new Error(`msg.payload.home ${JSON.stringify(home)}: expected true, false or null`);
          const source = String((p as Record<string, unknown>).source ?? msg.source ?? 'presence');
          policy.setPresence(source, home);
          const devices = (p as Record<string, unknown>).devices;
          if (Array.isArray(devices)) devicesBySource.set(source, devices.filter((d) => typeof d?.name === 'string').map((d) => ({ name: d.name, present: typeof d.present === 'boolean' ? d.present : null })));
          hub?.setPresence([...devicesBySource.values()].flat());
          return;
        }
        case 'always-on': {
          const active = (p as Record<string, unknown> | undefined)?.active;
          if (typeof active !== 'boolean') throw new Error(`msg.payload.active ${JSON.stringify(active)}: expected true or false`);
          policy.setAlwaysOn(active);
          return;
        }
        case 'override': {
          const mode = typeof p === 'object' && p !== null ? p.mode : p;
          if (!isOverride(mode)) throw new Error(`msg.payload ${JSON.stringify(mode)}: override must be "start", "stop" or "auto"`);
          policy.setOverride(mode);
          return;
        }
        default:
          throw new Error(`msg.topic ${JSON.stringify(msg.topic)}: expected "presence", "always-on" or "override"`);
      }
    }

    // done() comes after the write: a `complete` node (or an http response behind it) answers only
    // once the input is kept.
    node.on('input', (msg, send, done) => {
      try {
        apply(msg);
      } catch (err) {
        node.status({ fill: 'red', shape: 'ring', text: (err as Error).message.slice(0, 60) });
        done(err as Error);
        return;
      }
      const problem = evaluate(send);
      done(problem ? new Error(`the decision is in force but not kept across a restart: ${problem}`) : undefined);
    });

    // The hub's override API: applied exactly like an override message (kept, emitted, published)
    // before the API answers.
    const unbind = hub?.bindState((mode) => {
      apply({ topic: 'override', payload: mode });
      const problem = evaluate((m) => node.send(m));
      if (problem) throw new HttpError(503, `the override is in force but could not be kept across a restart (${problem})`);
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
