import type { MotionConfig } from '../config';
import { CommandController } from './command';
import type { ControllerHooks, MotionController } from './controller';
import { ProcessController } from './process';
import { WebcontrolController } from './webcontrol';

export function createController(cfg: MotionConfig, hooks: ControllerHooks): MotionController {
  switch (cfg.mode) {
    case 'process':
      return new ProcessController(cfg, hooks);
    case 'webcontrol':
      return new WebcontrolController(cfg, hooks);
    case 'command':
      return new CommandController(cfg, hooks);
  }
}
