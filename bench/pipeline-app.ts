import 'reflect-metadata';
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import {
  Injectable,
  Module,
  type CallHandler,
  type ExecutionContext,
  type MiddlewareConsumer,
  type NestInterceptor,
  type NestMiddleware,
  type NestModule,
} from '@nestjs/common';
import { APP_INTERCEPTOR, NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { inject } from 'light-my-request';
import { DatabaseResilienceModule } from 'nestjs-database-resilience';
import { Observable } from 'rxjs';
import { databaseEnv } from '../libs/shared/src/database-env';
import { BENCH_POOL_SIZE, cpuTimeUs } from './http-app';
import { PingController } from './ping-app';

/** The per-request hooks the request-pipeline benchmark compares, each in a process of its own. */
export const PIPELINE_VARIANTS = [
  'without the module',
  'forRoot(), nothing per request',
  'control: the same again',
  '+ an empty global interceptor',
  '+ an interceptor, no AsyncLocalStorage',
  '+ an interceptor with AsyncLocalStorage',
  '+ a middleware, no AsyncLocalStorage',
  "+ the module's middleware (requestContext: true)",
] as const;
export type PipelineVariant = (typeof PIPELINE_VARIANTS)[number];

/** Messages: the parent sends `{ requests }`, the app answers with its CPU and wall time for them. */
export type PipelineMessage = { ready: true } | { cpuUs: number; wallUs: number; failed: number };

interface Tagged {
  requestId: string;
  deadline: number;
}
const storage = new AsyncLocalStorage<Tagged>();

/** What a request hook does besides carrying the context: an id (echoed back) and a deadline. */
function tag(request: { headers: Record<string, unknown> }, response: { setHeader(n: string, v: string): void }) {
  const given = request.headers['x-request-id'];
  const requestId = typeof given === 'string' ? given : randomUUID();
  response.setHeader('x-request-id', requestId);
  return { requestId, deadline: Date.now() + 10_000 };
}

@Injectable()
class EmptyInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle();
  }
}

@Injectable()
class TaggingInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    (http.getRequest() as { tagged?: Tagged }).tagged = tag(http.getRequest(), http.getResponse());
    return next.handle();
  }
}

@Injectable()
class ContextInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const tagged = tag(http.getRequest(), http.getResponse());
    // The handler's observable is subscribed inside the context, so that its awaits carry it.
    return new Observable((subscriber) => storage.run(tagged, () => next.handle().subscribe(subscriber)));
  }
}

@Injectable()
class TaggingMiddleware implements NestMiddleware {
  use(request: Parameters<typeof tag>[0] & { tagged?: Tagged }, response: Parameters<typeof tag>[1], next: () => void) {
    request.tagged = tag(request, response);
    next();
  }
}

function appModule(variant: PipelineVariant) {
  const interceptor = {
    '+ an empty global interceptor': EmptyInterceptor,
    '+ an interceptor, no AsyncLocalStorage': TaggingInterceptor,
    '+ an interceptor with AsyncLocalStorage': ContextInterceptor,
  }[variant as string];
  const resilience =
    variant === 'without the module'
      ? []
      : [
          DatabaseResilienceModule.forRoot({
            requestContext: variant === "+ the module's middleware (requestContext: true)",
          }),
        ];

  @Module({
    imports: [
      TypeOrmModule.forRoot({ type: 'mysql', ...databaseEnv(), poolSize: BENCH_POOL_SIZE, retryAttempts: 0 }),
      ...resilience,
    ],
    controllers: [PingController],
    providers: interceptor ? [{ provide: APP_INTERCEPTOR, useClass: interceptor }] : [],
  })
  class PipelineAppModule implements NestModule {
    configure(consumer: MiddlewareConsumer): void {
      if (variant === '+ a middleware, no AsyncLocalStorage') consumer.apply(TaggingMiddleware).forRoutes('{*path}');
    }
  }
  return PipelineAppModule;
}

/**
 * The one-`SELECT 1` app of the HTTP benchmark with one kind of request hook, driven in process: each request goes
 * through Express and Nest's whole pipeline by light-my-request's `inject`, one after the other, with no socket,
 * so that the difference between hooks is not lost in the noise of a load generator on the same 2 cores.
 */
async function main(variant: PipelineVariant): Promise<void> {
  const app = await NestFactory.create(appModule(variant), { logger: false });
  await app.init();
  const dispatch = app.getHttpAdapter().getInstance();
  process.on('message', (message: { requests?: number }) => {
    if (typeof message.requests !== 'number') return;
    void (async () => {
      let failed = 0;
      const cpu = cpuTimeUs();
      const wall = performance.now();
      for (let i = 0; i < message.requests!; i++) {
        const response = await inject(dispatch, { method: 'GET', url: '/ping' });
        if (response.statusCode !== 200) failed++;
      }
      const reply: PipelineMessage = {
        cpuUs: (cpuTimeUs() - cpu) / message.requests!,
        wallUs: ((performance.now() - wall) * 1000) / message.requests!,
        failed,
      };
      process.send!(reply);
    })();
  });
  process.on('disconnect', () => void app.close().then(() => process.exit(0)));
  process.send!({ ready: true } satisfies PipelineMessage);
}

if (require.main === module) void main(process.argv[2] as PipelineVariant);
