// What every subcommand shares: its description and the common --config / --log-level options.
import { parseArgs } from 'node:util';
import { LEVELS, type Level } from '../log';

export interface Command {
  summary: string;
  usage: string;
  /** Resolves with the process exit code (a daemon resolves when it has stopped). */
  main(argv: string[]): Promise<number>;
}

export class UsageError extends Error {}

export const DEFAULT_CONFIG = '/etc/dms3/agent.yaml';

/** Exit code for a configuration the agent cannot run with (EX_CONFIG); systemd does not retry it. */
export const EXIT_CONFIG = 78;

export interface CommonOptions {
  config: string;
  logLevel?: Level;
}

export function parseCommon(argv: string[]): CommonOptions {
  let values: { config?: string; 'log-level'?: string };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { config: { type: 'string', short: 'c' }, 'log-level': { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const level = values['log-level'];
  if (level !== undefined && !(LEVELS as readonly string[]).includes(level)) {
    throw new UsageError(`--log-level ${JSON.stringify(level)}: must be one of ${LEVELS.join(', ')}`);
  }
  return { config: values.config ?? DEFAULT_CONFIG, logLevel: level as Level | undefined };
}
