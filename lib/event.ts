// One motion event as it travels through the flow: from the event node (dms3-event) to the mail node.

export type EventKind = 'picture' | 'movie';

/** `msg.payload` of a `msg.topic = "event"` message. */
export interface MotionEvent {
  agent: string; // the agent's name
  hostname: string;
  camera: string; // Motion's camera id (%t), as text
  eventId: string; // Motion's %{eventid}, or its event number (%v): the same for every file of one event
  kind: EventKind;
  file: { name: string; mime: string; size: number; data: Buffer }; // name: a display name, never a path
  pixels: number | null; // changed pixels (%D)
  width: number | null; // from the picture's own header; null for movies
  height: number | null;
  percent: number | null; // changedPercent(pixels, width, height)
  time: string; // ISO 8601
}
