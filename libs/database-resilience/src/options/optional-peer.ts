/**
 * An optional peer package (ioredis, nodemailer, helmet), loaded only when the option that needs it is set, as
 * @nestjs/terminus loads its optional peers. Missing, it stops start-up with one message naming the package and
 * the option; any other failure while loading it is left as it is.
 */
export function loadOptionalPeer<T>(name: string, neededFor: string): T {
  try {
    return require(name) as T;
  } catch (error) {
    const { code, message } = error as { code?: unknown; message?: unknown };
    if (code === 'MODULE_NOT_FOUND' && String(message).includes(`'${name}'`)) {
      throw new Error(
        `nestjs-database-resilience: ${neededFor} needs the package "${name}", which is not installed: npm install ${name}`,
        { cause: error },
      );
    }
    throw error;
  }
}

/** An optional peer used when it is there (no option asks for it): undefined when it is not installed. */
export function optionalPeerIfInstalled<T>(name: string): T | undefined {
  try {
    return require(name) as T;
  } catch (error) {
    const { code, message } = error as { code?: unknown; message?: unknown };
    if (code === 'MODULE_NOT_FOUND' && String(message).includes(`'${name}'`)) return undefined;
    throw error;
  }
}
