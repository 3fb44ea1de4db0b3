// Runs one dms3-presence-scan node on the real Node-RED runtime (test helper) and prints what it does
// as JSON lines on stdout: {"t":…, "msg"|"status"|"warn"|"error": …}. The system test starts it inside a
// network namespace with `ip netns exec`, so every scan stays on that namespace's LAN.
// argv[2]: the node's configuration (JSON). A line on stdin sends the node a message (on-demand query).
import scanNode from '../../nodes/dms3-presence-scan/dms3-presence-scan';
import { helper } from './red';

function print(record: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ t: Date.now(), ...record })}\n`);
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as Record<string, unknown>;
  await helper.load(scanNode, [
    { id: 'p', type: 'dms3-presence-scan', wires: [['out']], ...config },
    { id: 'out', type: 'helper' },
  ]);
  const node = helper.getNode('p');
  for (const kind of ['status', 'warn', 'error'] as const) {
    node.on(`call:${kind}`, (call: { args: unknown[] }) => print({ [kind]: call.args[0] }));
  }
  helper.getNode('out').on('input', (msg: Record<string, unknown>) => print({ msg: { topic: msg.topic, payload: msg.payload } }));
  process.stdin.on('data', () => node.receive({ payload: 'query' }));
  const stop = async () => {
    await helper.unload();
    print({ closed: true });
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  print({ ready: true });
}

main().catch((err) => {
  print({ fatal: String(err) });
  process.exit(1);
});
