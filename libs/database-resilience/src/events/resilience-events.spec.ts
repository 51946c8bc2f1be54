import type { ResilienceEvent } from './resilience-event';
import { ResilienceEvents } from './resilience-events';

const rejected: ResilienceEvent = { type: 'breaker-rejected', at: 0, database: 'db' } as ResilienceEvent;
const recovered: ResilienceEvent = {
  type: 'recovered',
  at: 0,
  unitId: 1,
  database: 'db',
  attempts: 2,
} as ResilienceEvent;
const query: ResilienceEvent = { type: 'query', at: 0, database: 'db' } as ResilienceEvent;

describe('ResilienceEvents: who gets which event', () => {
  it('a listener with types gets those only; without, every type but query; query only to who asked', () => {
    const bus = new ResilienceEvents();
    const typed: string[] = [];
    const all: string[] = [];
    const queries: string[] = [];
    bus.subscribe((e) => typed.push(e.type), { types: ['recovered'] });
    bus.subscribe((e) => all.push(e.type));
    bus.subscribe((e) => queries.push(e.type), { queries: true });
    for (const event of [rejected, recovered, query]) bus.emit(event);
    expect(typed).toEqual(['recovered']);
    expect(all).toEqual(['breaker-rejected', 'recovered']);
    expect(queries).toEqual(['breaker-rejected', 'recovered', 'query']);
  });

  it('wants() says whether anyone listens, and follows subscribing and unsubscribing', () => {
    const bus = new ResilienceEvents();
    expect(bus.wants('breaker-rejected')).toBe(false);
    const stop = bus.subscribe(() => undefined, { types: ['breaker-rejected'] });
    expect(bus.wants('breaker-rejected')).toBe(true);
    expect(bus.wants('recovered')).toBe(false);
    expect(bus.wantsQueries).toBe(false);
    stop();
    expect(bus.wants('breaker-rejected')).toBe(false);
    const got: string[] = [];
    bus.subscribe((e) => got.push(e.type), { types: ['query'] });
    expect(bus.wantsQueries).toBe(true);
    bus.emit(query);
    expect(got).toEqual(['query']);
  });

  it('a listener that throws is skipped; the others still get the event', () => {
    const bus = new ResilienceEvents();
    const got: string[] = [];
    bus.subscribe(() => {
      throw new Error('listener bug');
    });
    bus.subscribe((e) => got.push(e.type));
    const warn = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(() => bus.emit(recovered)).not.toThrow();
    } finally {
      warn.mockRestore();
    }
    expect(got).toEqual(['recovered']);
  });
});
