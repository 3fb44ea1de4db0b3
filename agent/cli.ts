#!/usr/bin/env node
// dms3-agent: the Raspberry Pi side of DMS3. Each subcommand lives in agent/commands/<name>.ts.
import { agentVersion } from './health';
import { UsageError, type Command } from './commands/options';

// Loaded on demand: `hook` runs for every picture Motion saves and must not pay for the daemon's modules.
const COMMANDS: Record<string, { summary: string; load: () => Promise<{ default: Command }> }> = {
  run: { summary: 'connect to the hub and control Motion (the daemon)', load: () => import('./commands/run') },
  'check-config': { summary: 'validate the configuration file and exit (non-zero, naming each bad key and line)', load: () => import('./commands/check-config') },
  hook: { summary: "post a picture or movie to the hub (run by Motion's on_picture_save / on_movie_end)", load: () => import('./commands/hook') },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length)) + 3;
  return [
    'Usage: dms3-agent <command> [options]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`),
    '',
    'Options:',
    '  --config FILE       configuration file (default /etc/dms3/agent.yaml)',
    '  --log-level LEVEL   error, warn, info or debug (overrides log.level)',
    '  --version           print the version and exit',
    '  --help              print this help (or `dms3-agent <command> --help`)',
    '',
    'The token comes from DMS3_TOKEN, or the config keys token / token_file.',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '--version' || first === '-V') {
    console.log(agentVersion());
    return 0;
  }
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    console.log(usage());
    return first === undefined ? 2 : 0;
  }
  const entry = COMMANDS[first];
  if (!entry) {
    console.error(`dms3-agent: unknown command ${JSON.stringify(first)}\n\n${usage()}`);
    return 2;
  }
  const command = (await entry.load()).default;
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(`Usage: dms3-agent ${first} ${command.usage}\n\n${command.summary}`);
    return 0;
  }
  try {
    return await command.main(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`dms3-agent ${first}: ${err.message}\nUsage: dms3-agent ${first} ${command.usage}`);
      return 2;
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    console.error(`dms3-agent: ${err.stack ?? err.message}`);
    process.exitCode = 1;
  },
);
