// dms3-ha-server: the Home Assistant connection (URL + long-lived access token) shared by the
// dms3-ha-presence and dms3-ha-state nodes.
import { FieldError } from '../../lib/errors';
import { websocketUrl } from '../../lib/ha';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { HaLink, type HaServerNode } from './link';

interface ServerDef extends NodeDef {
  url?: string;
  keepalive?: string | number;
}

function keepaliveSeconds(value: unknown): number {
  const s = value === undefined || value === '' ? 30 : Number(value);
  if (!Number.isFinite(s) || s < 1 || s > 3600) throw new FieldError('keepalive', value, 'expected seconds between 1 and 3600');
  return s;
}

export = function (RED: NodeAPI) {
  function HaServer(this: Node, config: ServerDef) {
    RED.nodes.createNode(this, config);
    const node = this as HaServerNode;
    node.link = null;
    node.problem = '';
    try {
      const wsUrl = websocketUrl(config.url);
      const token = (node.credentials?.token ?? '').trim();
      // Never echo the token itself in an error.
      if (!token) throw new FieldError('token', '', 'a long-lived access token is needed (Home Assistant › your profile › Security)');
      const keepaliveMs = keepaliveSeconds(config.keepalive) * 1000;
      node.link = new HaLink({ wsUrl, token, keepaliveMs, log: (text) => node.log(text) });
      let last = '';
      node.link.onState((state, detail) => {
        // One line per transition, not one per retry.
        if (state === last) return;
        last = state;
        if (state === 'auth-invalid') node.error(`Home Assistant at ${wsUrl}: ${detail}`);
        else if (state === 'connected') node.log(`connected to ${detail} at ${wsUrl}`);
        else if (state === 'disconnected') node.warn(`Home Assistant at ${wsUrl}: ${detail}`);
      });
      node.link.start();
    } catch (err) {
      node.problem = (err as Error).message;
      node.error(node.problem);
    }

    node.on('close', (_removed, done) => {
      if (!node.link) return done();
      node.link.close().then(() => done(), () => done());
    });
  }
  RED.nodes.registerType('dms3-ha-server', HaServer, { credentials: { token: { type: 'password' } } });
};
