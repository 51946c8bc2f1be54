import {
  ForbiddenException,
  Inject,
  Injectable,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { HelmetOptions } from 'helmet';
import { loadOptionalPeer } from '../options/optional-peer';
import type { ResolvedResilienceOptions } from '../options/options.schema';
import { RESILIENCE_OPTIONS } from '../options/resilience-options.token';
import {
  AdminSigner,
  bearerOf,
  cookiesOf,
  CSRF_COOKIE,
  CSRF_HEADER,
  SESSION_COOKIE,
  tokenMatches,
} from './admin-access';
import { ADMIN_PUBLIC } from './admin-public.decorator';
import { AdminAuthThrottle } from './admin-auth-throttle';
import { AdminSessions } from './admin-sessions';

interface AdminRequest {
  method: string;
  headers: Record<string, string | string[] | undefined>;
  ip?: string;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Security headers of every admin answer: a CSP without inline script, no framing, no sniffing (helmet). */
const HELMET_OPTIONS: HelmetOptions = {
  contentSecurityPolicy: {
    useDefaults: true,
    directives: {
      'script-src': ["'self'"],
      'style-src': ["'self'"],
      'img-src': ["'self'", 'data:'],
      'connect-src': ["'self'"],
      'form-action': ["'self'"],
      'frame-ancestors': ["'none'"],
      'upgrade-insecure-requests': null, // the dashboard may be served over plain HTTP inside a closed network
    },
  },
  strictTransportSecurity: false, // the app's own TLS setup decides that
};

type Middleware = (request: never, response: never, next: () => void) => void;

/**
 * Admin access not configured: every protected route answers 401 and helmet (an optional peer) is not needed;
 * the public page and assets still go out locked down.
 */
const lockedDown: Middleware = (_request, response, next) => {
  const headers = response as { setHeader?(name: string, value: string): void };
  headers.setHeader?.('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
  headers.setHeader?.('X-Content-Type-Options', 'nosniff');
  next();
};

/**
 * On every admin route: secure by default (no `admin.token` and no `admin.authorize`: 401). A request gets in
 * with the bearer token, a valid dashboard session cookie, or the app's `authorize(request)`. A state-changing
 * request that did not come with the bearer token (so a browser's, which sends cookies by itself) must carry the
 * CSRF token in `x-csrf-token`, equal to its CSRF cookie (signed double submit): 403 otherwise.
 */
@Injectable()
export class AdminAccessGuard implements CanActivate {
  private readonly securityHeaders: Middleware;

  constructor(
    @Inject(RESILIENCE_OPTIONS) private readonly options: ResolvedResilienceOptions,
    private readonly reflector: Reflector,
    private readonly signer: AdminSigner,
    private readonly sessions: AdminSessions,
    private readonly throttle: AdminAuthThrottle,
  ) {
    const { token, authorize } = options.admin;
    this.securityHeaders =
      token || authorize
        ? loadOptionalPeer<typeof import('helmet')>(
            'helmet',
            'the admin dashboard and API (admin.token or admin.authorize)',
          ).default(HELMET_OPTIONS)
        : lockedDown;
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const request = http.getRequest<AdminRequest>();
    await new Promise<void>((resolve) =>
      this.securityHeaders(request as never, http.getResponse<never>(), () => resolve()),
    );
    if (this.reflector.get<boolean>(ADMIN_PUBLIC, context.getHandler())) return true;
    const { token, authorize } = this.options.admin;
    if (!token && !authorize) {
      throw new UnauthorizedException('Admin access is not configured: set the admin.token or admin.authorize option');
    }
    this.throttle.check(request); // a client that failed too often gets 429, whatever it sends now
    const bearer = bearerOf(request.headers.authorization);
    if (bearer !== undefined) {
      if (token && tokenMatches(bearer, token)) return true; // not a browser's ambient credential: no CSRF check
      await this.throttle.failed(request);
      throw new UnauthorizedException('Invalid token');
    }
    const cookies = cookiesOf(request.headers.cookie);
    const allowed =
      (token !== undefined && this.sessions.valid(cookies[SESSION_COOKIE])) ||
      (authorize !== undefined && (await authorize(request)) === true);
    if (!allowed) {
      // A request without any credential is no guess: only a presented token or session counts as a failure.
      if (cookies[SESSION_COOKIE] !== undefined) await this.throttle.failed(request);
      throw new UnauthorizedException('Log in to the dashboard or send Authorization: Bearer <admin.token>');
    }
    if (
      !SAFE_METHODS.has(request.method) &&
      !this.signer.csrfValid(request.headers[CSRF_HEADER], cookies[CSRF_COOKIE])
    ) {
      throw new ForbiddenException('Missing or invalid CSRF token (x-csrf-token)');
    }
    return true;
  }
}
