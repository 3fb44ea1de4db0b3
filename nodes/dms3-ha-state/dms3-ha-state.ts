// dms3-ha-state: pushes the surveillance state into Home Assistant (a `dms3_state_changed` event and,
// optionally, an input_boolean that is on while surveillance runs), and turns a user's changes of an
// input_select / input_boolean into override messages for dms3-state.
import { FieldError } from '../../lib/errors';
import { overrideFromChange, parseEntityId, parseStateMessage } from '../../lib/ha';
import type { StatePayload } from '../../lib/policy';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { linkStatus, type HaServerNode } from '../dms3-ha-server/link';

interface StateDef extends NodeDef {
  server?: string;
  boolean?: string;
  override?: string;
}

const EVENT_TYPE = 'dms3_state_changed';

export = function (RED: NodeAPI) {
  function HaStateNode(this: Node, config: StateDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const server = RED.nodes.getNode(config.server ?? '') as HaServerNode | null;
    let mirror: string | null;
    let overrideEntity: string | null;
    try {
      mirror = config.boolean?.trim() ? parseEntityId('boolean', config.boolean, ['input_boolean']) : null;
      overrideEntity = config.override?.trim() ? parseEntityId('override', config.override, ['input_boolean', 'input_select']) : null;
      if (mirror && mirror === overrideEntity) throw new FieldError('override', config.override, 'must not be the state boolean: our own writes would come back as overrides');
      if (!server?.link) throw new Error(server?.problem || 'server: no Home Assistant server chosen');
    } catch (err) {
      const error = err as Error;
      node.status({ fill: 'red', shape: 'ring', text: error.message.slice(0, 60) });
      node.error(error.message);
      node.on('input', (_msg, _send, done) => done(error));
      return;
    }
    const link = server.link;
    let current: StatePayload | null = null; // the latest state received
    let delivered: string | null = null; // the latest state fired as an event
    let queue: Promise<unknown> = Promise.resolve();

    function showStatus() {
      const down = linkStatus(link);
      if (down) return node.status(current ? { ...down, text: `${down.text}, will send ${current.state}` } : down);
      if (!current) return node.status({ fill: 'grey', shape: 'ring', text: 'connected' });
      node.status({ fill: current.state === 'start' ? 'red' : 'green', shape: 'dot', text: `${current.state === 'start' ? 'armed' : 'stopped'} → Home Assistant` });
    }

    /** Fire the event for a state not yet fired, then set the boolean (again: HA may have restarted). */
    async function deliver(p: StatePayload): Promise<void> {
      const key = JSON.stringify(p);
      if (key !== delivered) {
        await link.fireEvent(EVENT_TYPE, p);
        delivered = key;
      }
      if (mirror) await link.callService('input_boolean', p.state === 'start' ? 'turn_on' : 'turn_off', {}, { entity_id: mirror });
    }

    // One delivery at a time, in order of arrival.
    function enqueue(p: StatePayload): Promise<void> {
      const run = queue.then(() => deliver(p));
      queue = run.catch(() => undefined);
      return run;
    }

    function failed(err: Error) {
      node.status({ fill: 'red', shape: 'ring', text: err.message.slice(0, 60) });
    }

    const stopState = link.onState((state) => {
      showStatus();
      if (state === 'connected' && current) {
        enqueue(current).then(showStatus, (err: Error) => {
          failed(err);
          node.error(err.message);
        });
      }
    });

    const watched = [mirror, overrideEntity].filter((id): id is string => id !== null);
    const stopWatch = watched.length
      ? link.watchEntities(watched, {
          update(table, changes, snapshot) {
            // The value found at subscribe time (deploy, or a Home Assistant restart) is not a request.
            if (snapshot) {
              // Home Assistant accepts service calls for entities that do not exist, silently.
              for (const id of watched) if (!table.get(id)) node.warn(`${id} does not exist in Home Assistant`);
              return;
            }
            for (const change of changes) {
              if (change.entityId !== overrideEntity) continue;
              const mode = overrideFromChange(change);
              if (mode) node.send({ topic: 'override', payload: mode, entity_id: change.entityId });
            }
          },
          error(text) {
            failed(new Error(text));
            node.error(text);
          },
        })
      : () => undefined;

    node.on('input', (msg, _send, done) => {
      let p: StatePayload;
      try {
        p = parseStateMessage(msg.topic, msg.payload);
      } catch (err) {
        failed(err as Error);
        return done(err as Error);
      }
      if (current && JSON.stringify(current) === JSON.stringify(p) && delivered === JSON.stringify(p)) return done();
      current = p;
      // While Home Assistant is away the latest state waits and goes out on reconnect.
      if (!link.connected) {
        showStatus();
        return done();
      }
      enqueue(p).then(
        () => {
          showStatus();
          done();
        },
        (err: Error) => {
          failed(err);
          done(err);
        },
      );
    });

    showStatus();
    node.on('close', (_removed, done) => {
      stopWatch();
      stopState();
      done();
    });
  }
  RED.nodes.registerType('dms3-ha-state', HaStateNode);
};
