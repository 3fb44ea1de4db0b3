// `dms3-agent run`: the daemon. Stops cleanly on SIGTERM/SIGINT (closes the connection, and in
// process mode stops Motion); a second signal, or a stop that hangs, exits at once.
import { Agent } from '../agent';
import { hideFromChildren } from '../child-env';
import { ConfigError, loadConfig, type AgentConfig } from '../config';
import { Log } from '../log';
import { createTransport } from '../transport';
import { EXIT_CONFIG, parseCommon, type Command } from './options';

const command: Command = {
  summary: 'connect to the hub and control Motion (the daemon)',
  usage: '[--config FILE] [--log-level LEVEL]',
  async main(argv) {
    const opts = parseCommon(argv);
    let config: AgentConfig;
    try {
      config = loadConfig(opts.config);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      console.error(err.message);
      return EXIT_CONFIG;
    }
    const log = new Log(opts.logLevel ?? config.log.level, config.log.file);
    if (!config.token) {
      log.error(`${opts.config}: no token: set DMS3_TOKEN (e.g. in /etc/dms3/agent.env), or token_file in the config`);
      await log.close();
      return EXIT_CONFIG;
    }
    log.addSecret(config.token);
    hideFromChildren(config.token);
    delete process.env.DMS3_TOKEN; // read once; no child (nor anything spawned by a library) inherits it
    if (config.motion.mode === 'webcontrol' && config.motion.password) {
      log.addSecret(config.motion.password);
      hideFromChildren(config.motion.password);
    }

    const agent = new Agent({ config, log, transport: createTransport(config, config.token, log) });
    process.on('unhandledRejection', (err) => {
      log.error(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exit(1);
    });
    const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGTERM', () => resolve('SIGTERM'));
      process.once('SIGINT', () => resolve('SIGINT'));
    });
    await agent.start();
    const signal = await stopSignal;
    log.info(`${signal}: stopping`);
    const stopLimit = (config.motion.mode === 'process' ? config.motion.stopTimeout : 0) + 10;
    const force = (why: string) => {
      log.error(`${why}; exiting now`);
      process.exit(1);
    };
    process.once('SIGTERM', () => force('second signal'));
    process.once('SIGINT', () => force('second signal'));
    setTimeout(() => force(`stopping took more than ${stopLimit} s`), stopLimit * 1000).unref();
    await agent.stop();
    log.info('stopped');
    await log.close();
    // Idle keep-alive sockets (fetch) would hold the event loop open; everything is closed here.
    process.exit(0);
  },
};

export default command;
