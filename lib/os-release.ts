// The system's name as /etc/os-release gives it, for the agent's health and the dashboard's server card.

/** PRETTY_NAME from the text of os-release, e.g. "Raspbian GNU/Linux 12 (bookworm)"; null without one. */
export function prettyName(text: string): string | null {
  const m = /^PRETTY_NAME=(.*)$/m.exec(text);
  if (!m) return null;
  return m[1].trim().replace(/^(["'])(.*)\1$/, '$2').slice(0, 256) || null;
}
