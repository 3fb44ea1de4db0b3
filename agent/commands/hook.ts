// `dms3-agent hook picture|movie …`: run by Motion for each saved picture or movie. Uploads it to
// the hub, or spools it when the hub is away (the running agent delivers the spool later).
import { runHook, USAGE } from '../hook';
import type { Command } from './options';

const command: Command = {
  summary: "post a picture or movie to the hub (run by Motion's on_picture_save / on_movie_end)",
  usage: USAGE.replace(/^usage: dms3-agent hook /, ''),
  main: (argv) => runHook(argv, process.env),
};

export default command;
