import { hostname } from 'node:os';

/** This instance's name in alerts and the fleet view: `instanceId`, else `<hostname>:<pid>`. */
export function instanceIdOf(options: { instanceId?: string }): string {
  return options.instanceId ?? `${hostname()}:${process.pid}`;
}
