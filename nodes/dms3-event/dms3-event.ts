// dms3-event: the motion events the agents upload to the hub (POST <base>/event), as messages for the
// flow (e.g. to dms3-mail). Optional filters by agent, camera and kind. Thin glue over the hub's intake.
import type { MotionEvent } from '../../lib/event';
import { parseEventFilter, passes, type EventFilter } from '../../lib/event-filter';
import type { EventExtras, EventsNode } from '../dms3-server/events';
import type { HubNode } from '../dms3-server/hub';
import { hubMissing } from '../shared/hub-client';
import type { Node, NodeAPI, NodeDef } from '../shared/red';

interface EventDef extends NodeDef {
  server?: string;
  agents?: string; // names separated by commas or spaces; empty: all
  cameras?: string;
  kind?: string; // "", "picture" or "movie"
}

function clock(iso: string): string {
  return new Date(iso).toTimeString().slice(0, 8);
}

export = function (RED: NodeAPI) {
  function EventNode(this: Node, config: EventDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const server = config.server ? (RED.nodes.getNode(config.server) as (Node & EventsNode & HubNode) | null) : null;
    const intake = server?.events ?? null;
    let filter: EventFilter;
    try {
      filter = parseEventFilter(config);
    } catch (err) {
      node.status({ fill: 'red', shape: 'ring', text: 'bad filter (see log)' });
      node.error((err as Error).message);
      return;
    }
    if (!intake) {
      node.status({ fill: 'red', shape: 'ring', text: hubMissing(config.server, server) });
      return;
    }

    let count = 0;
    node.status({ fill: 'grey', shape: 'ring', text: 'no events yet' });
    const unbind = intake.bind((event: MotionEvent, extras: EventExtras, msgid: string) => {
      if (!passes(filter, event)) return;
      count++;
      node.status({ fill: 'blue', shape: 'dot', text: `${count} event${count === 1 ? '' : 's'}, last ${event.agent}/${event.camera} ${event.kind} ${clock(event.time)}` });
      // Each node gets its own copy: one flow changing its payload must not change another's. The
      // _msgid is the hub's: by it the hub follows the message until the flow has finished with it.
      node.send({ _msgid: msgid, topic: 'event', payload: { ...event, file: { ...event.file } }, motion: { ...extras } });
    });

    node.on('close', (_removed, done) => {
      unbind();
      done();
    });
  }
  RED.nodes.registerType('dms3-event', EventNode);
};
