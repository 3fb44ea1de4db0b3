#!/usr/bin/env node
// dms3-agent: the Raspberry Pi side of DMS3. Each subcommand lives in agent/commands/<name>.ts.
import { agentVersion } from './health';
import checkConfig from './commands/check-config';
import run from './commands/run';
import { UsageError, type Command } from './commands/options';

const COMMANDS: Record<string, Command> = { run, 'check-config': checkConfig };

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
  const command = COMMANDS[first];
  if (!command) {
    console.error(`dms3-agent: unknown command ${JSON.stringify(first)}\n\n${usage()}`);
    return 2;
  }
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
