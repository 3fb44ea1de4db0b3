// What a node bound to a dms3-server hub shows when that hub is not running.

/** The status text: the hub's own reason ("hub not started: no token"), not "see log". */
export function hubMissing(server: string | undefined, node: { problem?: string | null } | null): string {
  if (!server) return 'no hub configured';
  if (!node) return 'hub not deployed';
  return `hub not started: ${node.problem ?? 'see its status'}`.slice(0, 60);
}
