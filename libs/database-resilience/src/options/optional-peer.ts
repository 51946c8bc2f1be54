/** Whether `error` is Node's "cannot find module `name`" (not a failure inside the package while it loads). */
function isMissing(error: unknown, name: string): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return code === 'MODULE_NOT_FOUND' && String(message).includes(`'${name}'`);
}

/** The package, or undefined when it is not installed; any other failure while loading it is left as it is. */
export function optionalPeerIfInstalled<T>(name: string): T | undefined {
  try {
    return require(name) as T;
  } catch (error) {
    if (isMissing(error, name)) return undefined;
    throw error;
  }
}

/**
 * An optional peer package (ioredis, nodemailer, helmet), loaded only when the option that needs it is set, as
 * @nestjs/terminus loads its optional peers. Missing, it stops start-up with one message naming the package and
 * the option.
 */
export function loadOptionalPeer<T>(name: string, neededFor: string): T {
  const peer = optionalPeerIfInstalled<T>(name);
  if (peer === undefined) {
    throw new Error(
      `nestjs-database-resilience: ${neededFor} needs the package "${name}", which is not installed: npm install ${name}`,
    );
  }
  return peer;
}
