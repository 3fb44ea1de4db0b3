// dms3-ha-presence: presence from Home Assistant's person.* / device_tracker.* entities, sent as the
// same `presence` message as the LAN scanner. No data is never "away": until the first snapshot the
// node sends nothing, and while Home Assistant is away it keeps the last answer.
import { HaPresence, parseEntityIds, presenceText } from '../../lib/ha';
import type { Node, NodeAPI, NodeDef, NodeMessage } from '../shared/red';
import { linkStatus, type HaServerNode } from '../dms3-ha-server/link';

interface PresenceDef extends NodeDef {
  server?: string;
  entities?: unknown;
  source?: string;
}

export = function (RED: NodeAPI) {
  function HaPresenceNode(this: Node, config: PresenceDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const server = RED.nodes.getNode(config.server ?? '') as HaServerNode | null;
    let presence: HaPresence;
    try {
      presence = new HaPresence(parseEntityIds('entities', config.entities, ['person', 'device_tracker']));
      if (!server?.link) throw new Error(server?.problem || 'server: no Home Assistant server chosen');
    } catch (err) {
      const error = err as Error;
      node.status({ fill: 'red', shape: 'ring', text: error.message.slice(0, 60) });
      node.error(error.message);
      node.on('input', (_msg, _send, done) => done(error));
      return;
    }
    const link = server.link;
    const source = (config.source ?? '').trim() || 'home-assistant';
    let sentKey: string | null = null;

    function message(msg: NodeMessage = {}): NodeMessage | null {
      const report = presence.report();
      if (!report) return null;
      msg.topic = 'presence';
      msg.payload = { ...report, source };
      return msg;
    }

    function showStatus() {
      const down = linkStatus(link);
      if (down) return node.status(down);
      const report = presence.report();
      const fill = report?.home === true ? 'green' : report?.home === false ? 'blue' : 'grey';
      node.status({ fill, shape: report && report.home !== null ? 'dot' : 'ring', text: presenceText(report) });
    }

    const stopState = link.onState(showStatus);
    const stopWatch = link.watchEntities([...presence.entityIds], {
      update(table, _changes, snapshot) {
        // A typo in an entity id would otherwise only show as "unknown".
        if (snapshot) for (const id of presence.entityIds) if (!table.get(id)) node.warn(`${id} does not exist in Home Assistant`);
        presence.update(table);
        const report = presence.report()!;
        // A change is home/away or a device's presence, not every GPS update of a person at home.
        const key = JSON.stringify([report.home, report.devices.map((d) => d.present)]);
        showStatus();
        if (key === sentKey) return;
        sentKey = key;
        node.send(message());
      },
      error(text) {
        node.status({ fill: 'red', shape: 'ring', text: text.slice(0, 60) });
        node.error(text);
      },
    });
    showStatus();

    // Any input asks for the current answer (nothing while it is still unknown).
    node.on('input', (msg, send, done) => {
      const out = message(msg);
      if (out) send(out);
      done();
    });

    node.on('close', (_removed, done) => {
      stopWatch();
      stopState();
      done();
    });
  }
  RED.nodes.registerType('dms3-ha-presence', HaPresenceNode);
};
