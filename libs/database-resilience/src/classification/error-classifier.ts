import type { ClassificationRule } from './classification-rule';
import type { ClassifiedError, MatchedBy } from './classified-error';
import {
  CODE_CATALOGUE,
  ERRNO_CATALOGUE,
  MESSAGE_PATTERN_CATALOGUE,
  NAMED_CATALOGUE,
  SQLSTATE_CATALOGUE,
  SQLSTATE_CLASS_CATALOGUE,
  UNCODED_MESSAGE_CATALOGUE,
  UNKNOWN_ENTRY,
  type CatalogueEntry,
} from './error-catalogue';
import { readErrorFacts, type ErrorFacts } from './error-facts';
import { redactMessage } from './redaction';
import { RetryScope } from './retry-scope.enum';
import { fingerprintSql } from './sql-fingerprint';

/**
 * Says what a database error means. Pure and table-driven: your rules, then errno, then symbolic code, then
 * SQLSTATE, then message patterns as the last resort. Never throws, whatever it is given.
 */
export class ErrorClassifier {
  private readonly rules: ReadonlyArray<readonly [ClassificationRule, CatalogueEntry]>;

  constructor(rules: readonly ClassificationRule[] = []) {
    this.rules = rules.map((rule) => [rule, ruleEntry(rule)] as const);
  }

  classify(error: unknown): ClassifiedError {
    try {
      const facts = readErrorFacts(error);
      const [entry, matchedBy] = this.lookup(facts, error);
      return new Classification(entry, matchedBy, facts, readSql(error));
    } catch {
      return new Classification(UNKNOWN_ENTRY, 'none', { message: '' }, undefined);
    }
  }

  private lookup(facts: ErrorFacts, error: unknown): [CatalogueEntry, MatchedBy] {
    for (const [rule, entry] of this.rules) {
      if (ruleMatches(rule, facts, error)) return [entry, 'rule'];
    }
    if (facts.errno !== undefined) {
      const candidates = ERRNO_CATALOGUE.get(facts.errno);
      const found = candidates?.find((c) => !c.message || c.message.test(facts.message));
      if (found) return [found, 'errno'];
    }
    if (facts.code !== undefined) {
      const found = CODE_CATALOGUE.get(facts.code) ?? NAMED_CATALOGUE.get(facts.code);
      if (found) return [found, 'code'];
    }
    if (facts.sqlState !== undefined) {
      const found = SQLSTATE_CATALOGUE.get(facts.sqlState) ?? SQLSTATE_CLASS_CATALOGUE.get(facts.sqlState.slice(0, 2));
      if (found) return [found, 'sqlState'];
    }
    if (facts.message) {
      const found =
        UNCODED_MESSAGE_CATALOGUE.find(([pattern]) => pattern.test(facts.message)) ??
        MESSAGE_PATTERN_CATALOGUE.find(([pattern]) => pattern.test(facts.message));
      if (found) return [found[1], 'message'];
    }
    return [UNKNOWN_ENTRY, 'none'];
  }
}

/** The result object. Message and SQL are redacted on first read: classifying stays cheap on the hot path. */
class Classification implements ClassifiedError {
  readonly category;
  readonly severity;
  readonly action;
  readonly retryable;
  readonly scope;
  readonly serverUnwell;
  readonly name;
  readonly errno;
  readonly code;
  readonly sqlState;
  readonly fatal;
  readonly #rawMessage: string;
  readonly #rawSql: string | undefined;
  #message?: string;
  #sql?: string;

  constructor(
    entry: CatalogueEntry,
    readonly matchedBy: MatchedBy,
    facts: ErrorFacts,
    rawSql: string | undefined,
  ) {
    this.category = entry.category;
    this.severity = entry.severity;
    this.action = entry.action;
    this.scope = entry.scope;
    this.retryable = entry.scope !== RetryScope.NEVER;
    this.serverUnwell = entry.serverUnwell;
    this.name = entry.name;
    this.errno = facts.errno;
    this.code = facts.code;
    this.sqlState = facts.sqlState;
    this.fatal = facts.fatal;
    this.#rawMessage = facts.message;
    this.#rawSql = rawSql;
  }

  get message(): string {
    return (this.#message ??= redactMessage(this.#rawMessage));
  }

  get sql(): string | undefined {
    if (this.#rawSql === undefined) return undefined;
    return (this.#sql ??= fingerprintSql(this.#rawSql));
  }

  toJSON(): ClassifiedError {
    const { matchedBy, category, severity, action, retryable, scope, serverUnwell, name, errno, code, sqlState } = this;
    return {
      category,
      severity,
      action,
      retryable,
      scope,
      serverUnwell,
      name,
      matchedBy,
      errno,
      code,
      sqlState,
      fatal: this.fatal,
      message: this.message,
      sql: this.sql,
    };
  }
}

function ruleMatches(rule: ClassificationRule, facts: ErrorFacts, error: unknown): boolean {
  try {
    if (rule.errno !== undefined && !oneOf(rule.errno, facts.errno)) return false;
    if (rule.code !== undefined && !oneOf(rule.code, facts.code)) return false;
    if (rule.sqlState !== undefined && rule.sqlState !== facts.sqlState) return false;
    if (rule.message !== undefined && !rule.message.test(facts.message)) return false;
    if (rule.test !== undefined && !rule.test(facts, error)) return false;
    return true;
  } catch {
    return false;
  }
}

function oneOf<T>(expected: T | readonly T[], actual: T | undefined): boolean {
  return Array.isArray(expected) ? expected.includes(actual as T) : expected === actual;
}

function ruleEntry(rule: ClassificationRule): CatalogueEntry {
  return {
    name: rule.name ?? 'USER_RULE',
    category: rule.category,
    severity: rule.severity,
    action: rule.action,
    scope: rule.scope ?? RetryScope.NEVER,
    serverUnwell: rule.serverUnwell ?? false,
  };
}

/** TypeORM's QueryFailedError keeps the statement in `query`, mysql2's errors in `sql`. */
function readSql(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  try {
    const record = error as Record<string, unknown>;
    const sql = record.query ?? record.sql;
    return typeof sql === 'string' ? sql : undefined;
  } catch {
    return undefined;
  }
}
