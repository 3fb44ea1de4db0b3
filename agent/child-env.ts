// The environment the agent's children get (Motion, the start/stop/status commands, the audio player):
// the agent's own, minus every secret it holds. DMS3_TOKEN is how systemd hands the agent its token
// (agent.env); a child has no use for it, and a start command that logs its environment would leak it.
const secrets = new Set<string>();

/** Never pass this value (the token, the webcontrol password) to a child, under any variable name. */
export function hideFromChildren(secret: string): void {
  if (secret) secrets.add(secret);
}

export function childEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) {
    if (k === 'DMS3_TOKEN' || v === undefined) continue;
    if ([...secrets].some((s) => v.includes(s))) continue;
    out[k] = v;
  }
  return out;
}
