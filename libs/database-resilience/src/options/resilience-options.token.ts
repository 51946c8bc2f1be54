/** Injection token of the validated options, every default filled in (`ResolvedResilienceOptions`). */
export const RESILIENCE_OPTIONS = Symbol('RESILIENCE_OPTIONS');
