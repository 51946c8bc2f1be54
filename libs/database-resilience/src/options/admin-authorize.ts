/** An app's own check for the admin routes: receives the HTTP request (Express or Fastify), says yes or no. */
export type AdminAuthorize = (request: unknown) => boolean | Promise<boolean>;
