// Home Assistant: the pure parts. Validating the user's settings, decoding the compressed entity
// stream of `subscribe_entities`, turning person/device_tracker states into presence, and turning
// a helper entity (input_select / input_boolean) into a manual override.
import { FieldError } from './errors';
import { combineHome, isOverride, type Override, type StatePayload } from './policy';
import { normaliseMac, type DeviceReport, type PresenceReport } from './presence';

/** http(s)://host:8123[/prefix] → ws(s)://host:8123[/prefix]/api/websocket */
export function websocketUrl(url: unknown): string {
  let parsed: URL;
  try {
    parsed = new URL(String(url ?? '').trim());
  } catch {
    throw new FieldError('url', url, 'not a URL (e.g. http://homeassistant.local:8123)');
  }
  const scheme = { 'http:': 'ws:', 'https:': 'wss:', 'ws:': 'ws:', 'wss:': 'wss:' }[parsed.protocol];
  if (!scheme || !parsed.hostname) throw new FieldError('url', url, 'expected http://host:8123 or https://host');
  if (parsed.username || parsed.password) throw new FieldError('url', url, 'put the access token in the token field, not in the URL');
  const path = parsed.pathname.replace(/\/+$/, '').replace(/\/api\/websocket$/, '');
  return `${scheme}//${parsed.host}${path}/api/websocket`;
}

const ENTITY_ID = /^[a-z0-9_]+\.[a-z0-9_]+$/;

/** One entity id of an allowed domain, e.g. `person.alice`. */
export function parseEntityId(field: string, value: unknown, domains: readonly string[]): string {
  const id = typeof value === 'string' ? value.trim() : '';
  if (!ENTITY_ID.test(id)) throw new FieldError(field, value, 'not an entity id (e.g. person.alice)');
  if (!domains.includes(id.split('.')[0])) throw new FieldError(field, value, `expected an entity of ${domains.map((d) => `${d}.*`).join(' or ')}`);
  return id;
}

/** A list of entity ids (array, or text separated by commas, spaces or new lines), at least one, no duplicates. */
export function parseEntityIds(field: string, value: unknown, domains: readonly string[]): string[] {
  const list = typeof value === 'string' ? value.split(/[\s,;]+/).filter(Boolean) : value;
  if (!Array.isArray(list) || list.length === 0) throw new FieldError(field, value, `expected a list of ${domains.map((d) => `${d}.*`).join(' / ')} entities`);
  const ids = list.map((v, i) => parseEntityId(`${field}[${i}]`, v, domains));
  return [...new Set(ids)];
}

export interface EntityContext {
  id: string;
  parent_id: string | null;
  user_id: string | null;
}

/** An entity as Home Assistant's state machine holds it (the decoded form of a compressed state). */
export interface EntityState {
  entity_id: string;
  state: string;
  attributes: Record<string, unknown>;
  context: EntityContext;
  last_changed: string; // ISO 8601
  last_updated: string;
}

export interface EntityChange {
  entityId: string;
  before: EntityState | undefined;
  after: EntityState | undefined;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const iso = (seconds: unknown): string | undefined => (typeof seconds === 'number' && Number.isFinite(seconds) ? new Date(seconds * 1000).toISOString() : undefined);

function mergeContext(base: EntityContext | undefined, c: unknown): EntityContext {
  const ctx = base ?? { id: '', parent_id: null, user_id: null };
  if (typeof c === 'string') return { ...ctx, id: c };
  if (isObject(c)) return { ...ctx, ...(c as Partial<EntityContext>) };
  return ctx;
}

/**
 * The entities of one `subscribe_entities` subscription. Home Assistant sends a snapshot of all
 * matching entities first (`{a: {...}}`), then diffs: `a` adds, `c` changes
 * (`{"+": {s, a, c, lc, lu}, "-": {a: [keys]}}`), `r` removes.
 */
export class EntityTable {
  private readonly states = new Map<string, EntityState>();

  get(entityId: string): EntityState | undefined {
    return this.states.get(entityId);
  }

  get size(): number {
    return this.states.size;
  }

  /** Apply one event; with `replace`, the event is a fresh snapshot that replaces everything held. */
  apply(event: unknown, replace = false): EntityChange[] {
    if (!isObject(event)) return [];
    const before = new Map(this.states);
    if (replace) this.states.clear();
    if (isObject(event.a)) {
      for (const [id, s] of Object.entries(event.a)) {
        if (!isObject(s) || typeof s.s !== 'string') continue;
        const lastChanged = iso(s.lc) ?? new Date(0).toISOString();
        this.states.set(id, {
          entity_id: id,
          state: s.s,
          attributes: isObject(s.a) ? { ...s.a } : {},
          context: mergeContext(undefined, s.c),
          last_changed: lastChanged,
          last_updated: iso(s.lu) ?? lastChanged,
        });
      }
    }
    if (Array.isArray(event.r)) for (const id of event.r) if (typeof id === 'string') this.states.delete(id);
    if (isObject(event.c)) {
      for (const [id, diff] of Object.entries(event.c)) {
        const old = this.states.get(id);
        if (!old || !isObject(diff)) continue;
        const next: EntityState = { ...old, attributes: { ...old.attributes } };
        const add = diff['+'];
        const remove = diff['-'];
        if (isObject(add)) {
          if (typeof add.s === 'string') next.state = add.s;
          if (add.c !== undefined) next.context = mergeContext(old.context, add.c);
          const lc = iso(add.lc);
          const lu = iso(add.lu);
          if (lc) next.last_changed = next.last_updated = lc;
          else if (lu) next.last_updated = lu;
          if (isObject(add.a)) Object.assign(next.attributes, add.a);
        }
        if (isObject(remove) && Array.isArray(remove.a)) for (const key of remove.a) delete next.attributes[String(key)];
        this.states.set(id, next);
      }
    }
    const changes: EntityChange[] = [];
    for (const id of new Set([...before.keys(), ...this.states.keys()])) {
      const b = before.get(id);
      const a = this.states.get(id);
      if (b !== a) changes.push({ entityId: id, before: b, after: a });
    }
    return changes;
  }
}

/** "home" is home; unknown/unavailable (or no entity) is unknown; anything else (not_home, a zone) is away. */
export function presenceOf(state: string | undefined): boolean | null {
  if (state === undefined || state === 'unknown' || state === 'unavailable') return null;
  return state === 'home';
}

/**
 * Presence from Home Assistant entities, in the same shape as the LAN scanner's report.
 * `lastSeen` is when Home Assistant last confirmed the entity at home (its last update while home,
 * or the moment it left, when that was seen here).
 */
export class HaPresence {
  private readonly lastSeen = new Map<string, string>();
  private readonly lastState = new Map<string, string | undefined>();
  private readonly devices = new Map<string, EntityState | undefined>();
  private known = false;

  constructor(readonly entityIds: readonly string[]) {}

  update(table: EntityTable): void {
    this.known = true;
    for (const id of this.entityIds) {
      const st = table.get(id);
      if (st?.state === 'home') this.lastSeen.set(id, st.last_updated);
      else if (st && this.lastState.get(id) === 'home') this.lastSeen.set(id, st.last_changed);
      this.lastState.set(id, st?.state);
      this.devices.set(id, st);
    }
  }

  /** null until the first snapshot has arrived: no data is never "away". */
  report(): (PresenceReport & { devices: (DeviceReport & { entityId: string })[] }) | null {
    if (!this.known) return null;
    const devices = this.entityIds.map((id) => {
      const st = this.devices.get(id);
      const attrs = st?.attributes ?? {};
      return {
        name: typeof attrs.friendly_name === 'string' && attrs.friendly_name ? attrs.friendly_name : id,
        entityId: id,
        macs: macOf(attrs.mac),
        ip: typeof attrs.ip === 'string' && attrs.ip ? attrs.ip : null,
        present: presenceOf(st?.state),
        lastSeen: this.lastSeen.get(id) ?? null,
      };
    });
    return { home: combineHome(devices.map((d) => d.present)), devices };
  }
}

// Router-based device trackers carry the phone's MAC address; keep it when it is one.
function macOf(value: unknown): string[] {
  try {
    return typeof value === 'string' ? [normaliseMac('mac', value)] : [];
  } catch {
    return [];
  }
}

/** "2/3 home", "away", "unknown" or "unknown (1 of 2 unavailable)". */
export function presenceText(report: PresenceReport | null): string {
  if (!report) return 'unknown';
  const total = report.devices.length;
  if (report.home === true) return `${report.devices.filter((d) => d.present === true).length}/${total} home`;
  if (report.home === false) return 'away';
  const unknown = report.devices.filter((d) => d.present === null).length;
  return `unknown (${unknown} of ${total} unavailable)`;
}

/**
 * The override an entity state asks for. input_select: its option "start", "stop" or "auto"
 * (case ignored); input_boolean: on → "start", off → "auto". Anything else asks for nothing.
 */
export function overrideOf(entityId: string, state: string | undefined): Override | null {
  if (state === undefined) return null;
  const domain = entityId.split('.')[0];
  if (domain === 'input_boolean') return state === 'on' ? 'start' : state === 'off' ? 'auto' : null;
  if (domain === 'input_select') {
    const option = state.trim().toLowerCase();
    return option === 'start' || option === 'stop' || option === 'auto' ? option : null;
  }
  return null;
}

/**
 * Only a live change between two real values is a user's request: an entity appearing, a snapshot
 * after a reconnect, or a helper coming back from unknown/unavailable during a Home Assistant start
 * must not flip the override.
 */
export function overrideFromChange(change: EntityChange): Override | null {
  const { before, after } = change;
  if (!before || !after || before.state === after.state) return null;
  if (overrideOf(change.entityId, before.state) === null) return null;
  return overrideOf(change.entityId, after.state);
}

/** Home Assistant 2022.9 and later accept `supported_features` (message coalescing). */
export function supportsCoalescing(version: string | undefined): boolean {
  const [major, minor] = String(version ?? '').split('.').map(Number);
  return major > 2022 || (major === 2022 && minor >= 9);
}

/** The dms3-state output, checked before it is sent to Home Assistant as event data. */
export function parseStateMessage(topic: unknown, payload: unknown): StatePayload {
  if (topic !== 'state') throw new FieldError('msg.topic', topic, 'expected "state" (the output of dms3-state)');
  if (!isObject(payload)) throw new FieldError('msg.payload', payload, 'expected { state, reason, since, override }');
  const { state, reason, since, override } = payload;
  if (state !== 'start' && state !== 'stop') throw new FieldError('msg.payload.state', state, 'expected "start" or "stop"');
  if (typeof reason !== 'string') throw new FieldError('msg.payload.reason', reason, 'expected a text');
  if (typeof since !== 'string' || Number.isNaN(Date.parse(since))) throw new FieldError('msg.payload.since', since, 'expected an ISO 8601 time');
  if (!isOverride(override)) throw new FieldError('msg.payload.override', override, 'expected "start", "stop" or "auto"');
  return { state, reason: reason as StatePayload['reason'], since, override };
}
