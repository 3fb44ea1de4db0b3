// Temporary entry point for the hook until it is wired into the agent's CLI (`dms3-agent hook ...`).
import { runHook } from './hook';

void runHook(process.argv.slice(2), process.env).then((code) => {
  process.exitCode = code;
});
