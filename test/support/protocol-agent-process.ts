// A protocol agent as a separate process (until the real dms3-agent is used in these tests): says hello,
// reports health every `intervalMs`, applies every state it is pushed (printing it as a JSON line on
// stdout), and reconnects after the hub closes it.
//   node protocol-agent-process.js '{"url":"ws://…/dms3/agent","token":"…","name":"kitchen","intervalMs":500}'
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Health, StateMessage } from '../../lib/protocol';
import { health, TestAgent } from './agent';

export interface AgentProcessOptions {
  url: string;
  token: string;
  name: string;
  intervalMs: number;
  health?: Partial<Health>;
}

/** A running agent process; `states` fills as the process prints what it applied. */
export class AgentProcess {
  readonly child: ChildProcess;
  readonly states: StateMessage[] = [];
  connects = 0;
  private readonly exited: Promise<void>;

  constructor(readonly opts: AgentProcessOptions) {
    this.child = spawn(process.execPath, [__filename, JSON.stringify(opts)], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as { type: 'state'; state: StateMessage } | { type: 'connected' };
      if (msg.type === 'state') this.states.push(msg.state);
      else this.connects++;
    });
  }

  /** Kills the process at once (SIGKILL: no goodbye, as a Pi losing power). */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}

function run(opts: AgentProcessOptions): void {
  let applied: Health['applied'] = null;
  const started = Date.now();
  const report = (): Health => ({
    ...health({ hostname: opts.name, reportInterval: opts.intervalMs / 1000 }),
    motion: applied === 'stop' ? 'paused' : 'running',
    ...opts.health,
    uptime: (opts.health?.uptime ?? 3600) + Math.round((Date.now() - started) / 1000),
    applied,
  });
  let timer: NodeJS.Timeout | null = null;

  const connect = () => {
    const agent = new TestAgent(opts.url, { token: opts.token, name: opts.name, hello: false });
    agent.ws.on('message', () => {
      const state = agent.states.at(-1)!;
      applied = state.state;
      console.log(JSON.stringify({ type: 'state', state }));
    });
    agent.ws.on('close', () => {
      if (timer) clearInterval(timer);
      setTimeout(connect, 300);
    });
    agent
      .open()
      .then(() => {
        agent.send({ v: 1, type: 'hello', name: opts.name, health: report() });
        console.log(JSON.stringify({ type: 'connected' }));
        timer = setInterval(() => agent.send({ v: 1, type: 'health', health: report() }), opts.intervalMs);
      })
      .catch(() => undefined); // the close handler retries
  };
  connect();
}

if (require.main === module) run(JSON.parse(process.argv[2]) as AgentProcessOptions);
