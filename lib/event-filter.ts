// Which events a dms3-event node passes on: by agent, camera and kind. An empty list passes all.
import { FieldError } from './errors';
import type { EventKind, MotionEvent } from './event';

export interface EventFilter {
  agents: string[];
  cameras: string[];
  kind: EventKind | null;
}

/** A list typed in the editor: names separated by commas or spaces. */
function list(text: string | undefined): string[] {
  return (text ?? '').split(/[\s,]+/).filter((s) => s !== '');
}

export function parseEventFilter(def: { agents?: string; cameras?: string; kind?: string }): EventFilter {
  const kind = def.kind ?? '';
  if (kind !== '' && kind !== 'picture' && kind !== 'movie') throw new FieldError('kind', kind, 'expected "picture", "movie" or empty (both)');
  return { agents: list(def.agents), cameras: list(def.cameras), kind: kind === '' ? null : kind };
}

export function passes(filter: EventFilter, event: Pick<MotionEvent, 'agent' | 'camera' | 'kind'>): boolean {
  return (filter.agents.length === 0 || filter.agents.includes(event.agent)) && (filter.cameras.length === 0 || filter.cameras.includes(event.camera)) && (filter.kind === null || filter.kind === event.kind);
}
