// The hub's JSON API under <base>/api: the state (also the polling fallback for agents), reports from
// polling agents, the registry, and the manual override.
import type { IncomingMessage } from 'node:http';
import { FieldError } from '../../lib/errors';
import { isOverride } from '../../lib/policy';
import { MAX_MESSAGE_BYTES, parseAgentMessage, ProtocolError, type AgentMessage } from '../../lib/protocol';
import { isLate, RegistryFullError } from '../../lib/registry';
import type { Identity, Tokens } from './auth';
import { HttpError, readBody, readJson, remoteAddress, sendJson } from './http';
import type { Hub } from './hub';

export const API_BODY_LIMIT = 64 * 1024;
/** Names a polling agent for messages that carry no name (all but hello), when its token does not. */
export const AGENT_HEADER = 'x-dms3-agent';

function currentOr503(hub: Hub) {
  const state = hub.state;
  if (!state) throw new HttpError(503, 'no decision yet');
  return state;
}

/** Which agent an HTTP report is from: hello names itself, others use the header or the agent's own token. */
function agentName(msg: AgentMessage, req: IncomingMessage, identity: Identity | null, tokens: Tokens): string {
  const header = req.headers[AGENT_HEADER];
  const claimed = msg.type === 'hello' ? msg.name : typeof header === 'string' && header !== '' ? header : identity?.kind === 'agent' ? identity.name : null;
  if (claimed === null) throw new HttpError(400, `name the agent: send hello, or the ${AGENT_HEADER} header`);
  if (claimed.length > 64) throw new HttpError(400, `${AGENT_HEADER}: an agent name has at most 64 characters`);
  const refused = tokens.refuseAs(identity, claimed);
  if (refused) throw new HttpError(403, refused);
  return claimed;
}

export function addApiRoutes(hub: Hub): void {
  hub.route('GET', '/api/state', (_req, res) => sendJson(res, 200, currentOr503(hub)), { access: 'agent' });

  hub.route(
    'POST',
    '/api/report',
    async (req, res, { identity }) => {
      let msg: AgentMessage;
      try {
        msg = parseAgentMessage(await readBody(req, MAX_MESSAGE_BYTES));
      } catch (err) {
        if (err instanceof ProtocolError) throw new HttpError(400, err.message);
        throw err;
      }
      const name = agentName(msg, req, identity, hub.tokens);
      const via = { transport: 'http' as const, address: remoteAddress(req), shared: identity?.kind === 'hub' };
      switch (msg.type) {
        case 'hello':
        case 'health':
          try {
            hub.registry.report(name, msg.health, via);
          } catch (err) {
            if (err instanceof RegistryFullError) throw new HttpError(429, err.message);
            throw err;
          }
          break;
        case 'applied':
          if (!hub.registry.applied(name, msg)) throw new HttpError(409, `unknown agent ${JSON.stringify(name)}: send hello or health first`);
          break;
        case 'notice':
          if (!hub.registry.notice(name, msg)) throw new HttpError(409, `unknown agent ${JSON.stringify(name)}: send hello or health first`);
          break;
      }
      sendJson(res, 200, currentOr503(hub));
    },
    { access: 'agent' },
  );

  hub.route(
    'GET',
    '/api/agents',
    (_req, res) => {
      const now = Date.now();
      sendJson(res, 200, hub.registry.list().map((a) => ({ ...a, late: isLate(a, now) })));
    },
    { access: 'hub' },
  );

  hub.route(
    'DELETE',
    '/api/agents',
    (_req, res, { rest }) => {
      let name: string;
      try {
        name = decodeURIComponent(rest.slice(1));
      } catch {
        throw new HttpError(400, 'bad agent name in the path');
      }
      const agent = hub.registry.get(name);
      if (!agent) throw new HttpError(404, `no agent ${JSON.stringify(name)}`);
      if (agent.connected) throw new HttpError(409, `agent ${JSON.stringify(name)} is connected; revoke its token first`);
      hub.registry.remove(name);
      res.statusCode = 204;
      res.end();
    },
    { access: 'hub', prefix: true },
  );

  hub.route(
    'POST',
    '/api/override',
    async (req, res) => {
      const body = await readJson(req, API_BODY_LIMIT);
      const mode = body && typeof body === 'object' ? (body as { mode?: unknown }).mode : undefined;
      if (!isOverride(mode)) throw new HttpError(400, new FieldError('mode', mode ?? null, 'expected "start", "stop" or "auto"').message);
      hub.override(mode);
      sendJson(res, 200, currentOr503(hub));
    },
    { access: 'hub' },
  );
}
