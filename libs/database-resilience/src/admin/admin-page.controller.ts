import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Body,
  Controller,
  Get,
  Header,
  HttpCode,
  Inject,
  NotFoundException,
  Param,
  Post,
  Req,
  Res,
  UseGuards,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { ResolvedResilienceOptions } from '../options/options.schema';
import { RESILIENCE_OPTIONS } from '../options/resilience-options.token';
import { AdminAuthThrottle } from './admin-auth-throttle';
import { AdminSessions } from './admin-sessions';
import { AdminSigner, cookiesOf, CSRF_COOKIE, SESSION_COOKIE, setCookie, tokenMatches } from './admin-access';
import { AdminAccessGuard } from './admin-access.guard';
import { AdminPublic } from './admin-public.decorator';
import { ResilienceLogger } from '../events/resilience-logger';

/** The page's own files, read once: every asset is served by the app (no CDN: closed networks). */
const ASSETS: Record<string, { type: string; body: string }> = Object.fromEntries(
  [
    ['dashboard.js', 'text/javascript; charset=utf-8'],
    ['dashboard.css', 'text/css; charset=utf-8'],
  ].map(([file, type]) => [file, { type, body: readFileSync(join(__dirname, 'assets', file), 'utf8') }]),
);
const PAGE = readFileSync(join(__dirname, 'assets', 'dashboard.html'), 'utf8');

interface PageRequest {
  headers: Record<string, string | string[] | undefined>;
  secure?: boolean;
  ip?: string;
  originalUrl?: string;
  url?: string;
}
interface PageResponse {
  setHeader?(name: string, value: string | string[]): void;
  header?(name: string, value: string | string[]): void;
}

/** The dashboard: one page and its assets, a login form that trades the token for a session cookie. */
@Controller()
@UseGuards(AdminAccessGuard)
export class AdminPageController implements OnApplicationBootstrap {
  private readonly logger = new ResilienceLogger();

  constructor(
    @Inject(RESILIENCE_OPTIONS) private readonly options: ResolvedResilienceOptions,
    private readonly signer: AdminSigner,
    private readonly sessions: AdminSessions,
    private readonly throttle: AdminAuthThrottle,
  ) {}

  onApplicationBootstrap(): void {
    const { token, authorize } = this.options.admin;
    if (token || authorize) return;
    this.logger.log(
      'Admin dashboard and API answer 401: set the admin.token option (or admin.authorize) to enable them, ' +
        'or the adminPath switch to false to remove them',
      { event: 'admin-disabled' },
    );
  }

  @Get()
  @AdminPublic()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  page(@Req() request: PageRequest, @Res({ passthrough: true }) response: PageResponse): string {
    const base = basePathOf(request);
    if (!cookiesOf(request.headers.cookie)[CSRF_COOKIE]) {
      setHeader(response, 'Set-Cookie', this.csrfCookie(base, request));
    }
    return PAGE.replaceAll('{{base}}', escapeAttribute(base))
      .replace('{{refresh}}', String(this.options.admin.refreshIntervalMs))
      .replace('{{login}}', this.options.admin.token ? 'token' : 'none');
  }

  @Get('assets/:file')
  @AdminPublic()
  @Header('Cache-Control', 'no-cache')
  asset(@Param('file') file: string, @Res({ passthrough: true }) response: PageResponse): string {
    const asset = Object.hasOwn(ASSETS, file) ? ASSETS[file] : undefined;
    if (!asset) throw new NotFoundException();
    setHeader(response, 'Content-Type', asset.type);
    return asset.body;
  }

  /** The form posts the token once; a signed, HttpOnly, SameSite=Strict session cookie comes back. */
  @Post('login')
  @AdminPublic()
  @HttpCode(303)
  async login(
    @Body() body: { token?: unknown } | undefined,
    @Req() request: PageRequest,
    @Res({ passthrough: true }) response: PageResponse,
  ): Promise<void> {
    const base = basePathOf(request, 'login');
    const { token, sessionTtlMs } = this.options.admin;
    this.throttle.check(request);
    const given = typeof body?.token === 'string' ? body.token : '';
    if (!token || !tokenMatches(given, token)) {
      await this.throttle.failed(request);
      setHeader(response, 'Location', `${base}?login=failed`);
      return;
    }
    const secure = request.secure === true;
    setHeader(response, 'Set-Cookie', [
      setCookie(SESSION_COOKIE, this.sessions.issue(sessionTtlMs), base, {
        httpOnly: true,
        maxAgeS: Math.floor(sessionTtlMs / 1000),
        secure,
      }),
      this.csrfCookie(base, request),
    ]);
    setHeader(response, 'Location', base);
  }

  @Post('logout')
  @AdminPublic()
  @HttpCode(303)
  async logout(@Req() request: PageRequest, @Res({ passthrough: true }) response: PageResponse): Promise<void> {
    const base = basePathOf(request, 'logout');
    // Ended on the server, on every instance: a copy of the cookie taken before is refused from now on.
    await this.sessions.revoke(cookiesOf(request.headers.cookie)[SESSION_COOKIE]);
    const secure = request.secure === true;
    setHeader(response, 'Set-Cookie', [setCookie(SESSION_COOKIE, '', base, { httpOnly: true, maxAgeS: 0, secure })]);
    setHeader(response, 'Location', base);
  }

  /** Readable by the page's script (it sends it back in x-csrf-token): the double submit. */
  private csrfCookie(base: string, request: PageRequest): string {
    return setCookie(CSRF_COOKIE, this.signer.csrfToken(), base, {
      httpOnly: false,
      maxAgeS: Math.floor(this.options.admin.sessionTtlMs / 1000),
      secure: request.secure === true,
    });
  }
}

/** The admin base path as the client sees it (global prefix included), from the request's own URL. */
function basePathOf(request: PageRequest, last?: string): string {
  const path = (request.originalUrl ?? request.url ?? '/').split('?')[0].replace(/\/+$/, '');
  return last && path.endsWith(`/${last}`) ? path.slice(0, -last.length - 1) || '/' : path || '/';
}

function escapeAttribute(value: string): string {
  return value.replace(/[&"'<>]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function setHeader(response: PageResponse, name: string, value: string | string[]): void {
  if (typeof response.setHeader === 'function') response.setHeader(name, value);
  else response.header?.(name, value);
}
