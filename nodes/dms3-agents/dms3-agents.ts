// dms3-agents: the hub's agent changes as messages (connected, disconnected, apply-failed, ...), so a
// flow can alert on them; any input message is answered with the whole registry.
import type { AgentChange } from '../../lib/registry';
import type { HubNode } from '../dms3-server/hub';
import { hubMissing } from '../shared/hub-client';
import type { Node, NodeAPI, NodeDef } from '../shared/red';

interface AgentsDef extends NodeDef {
  server?: string;
  reports?: boolean; // also emit routine health reports
}

export = function (RED: NodeAPI) {
  function AgentsNode(this: Node, config: AgentsDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const server = config.server ? (RED.nodes.getNode(config.server) as (Node & HubNode) | null) : null;
    const hub = server?.hub ?? null;
    if (!hub) {
      node.status({ fill: 'red', shape: 'ring', text: hubMissing(config.server, server) });
      node.on('input', (_msg, _send, done) => done(new Error('server: no running dms3-server hub')));
      return;
    }
    const registry = hub.registry;

    let shown = '';
    function showStatus() {
      const { total, connected } = registry.counts();
      const text = `${total} agent${total === 1 ? '' : 's'}, ${connected} connected`;
      if (text === shown) return;
      shown = text;
      node.status({ fill: total === 0 ? 'grey' : connected === total ? 'green' : 'yellow', shape: 'dot', text });
    }

    const onAgent = (change: AgentChange) => {
      showStatus();
      if (change.event === 'health' && !config.reports) return;
      node.send({ topic: 'agent', payload: change });
    };
    registry.on('agent', onAgent);
    showStatus();

    node.on('input', (msg, send, done) => {
      msg.topic = 'agents';
      msg.payload = registry.list();
      send(msg);
      done();
    });

    node.on('close', (_removed, done) => {
      registry.off('agent', onAgent);
      done();
    });
  }
  RED.nodes.registerType('dms3-agents', AgentsNode);
};
