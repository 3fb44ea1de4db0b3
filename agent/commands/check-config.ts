// `dms3-agent check-config`: validate the file, print every problem with its line, exit 78 (EX_CONFIG) as `run` does.
import { ConfigError, loadConfig } from '../config';
import { EXIT_CONFIG, parseCommon, type Command } from './options';

const command: Command = {
  summary: 'validate the configuration file and exit (non-zero, naming each bad key and line)',
  usage: '[--config FILE]',
  async main(argv) {
    const { config: file } = parseCommon(argv);
    try {
      const cfg = loadConfig(file);
      console.log(`${file}: OK (agent "${cfg.name}", Motion ${cfg.motion.mode} mode, ${cfg.transport} to ${cfg.server})`);
      if (!cfg.token) console.log(`${file}: note: no token in the file; \`run\` needs DMS3_TOKEN in its environment (e.g. /etc/dms3/agent.env)`);
      return 0;
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      console.error(err.message);
      return EXIT_CONFIG;
    }
  },
};

export default command;
