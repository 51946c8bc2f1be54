/**
 * A SQL statement's shape without its values, for grouping and for logs: string, number and hex literals become
 * `?`, IN lists and multi-row VALUES collapse to `(?+)`, comments go, white space folds. One linear pass, so a
 * hostile statement costs no more than its length.
 */
const MAX_SQL_LENGTH = 8000;
const MAX_FINGERPRINT_LENGTH = 1000;

export function fingerprintSql(sql: string): string {
  const input = sql.length > MAX_SQL_LENGTH ? sql.slice(0, MAX_SQL_LENGTH) : sql;
  let out = '';
  let i = 0;
  const n = input.length;
  while (i < n) {
    const ch = input[i];
    const next = input[i + 1];
    if (ch === "'" || ch === '"') {
      i = skipQuoted(input, i, ch);
      out += '?';
    } else if (ch === '`') {
      const end = input.indexOf('`', i + 1);
      const stop = end === -1 ? n : end + 1;
      out += input.slice(i, stop);
      i = stop;
    } else if ((ch === '-' && next === '-') || ch === '#') {
      const end = input.indexOf('\n', i);
      i = end === -1 ? n : end;
    } else if (ch === '/' && next === '*') {
      const end = input.indexOf('*/', i + 2);
      i = end === -1 ? n : end + 2;
      out += ' ';
    } else if (isSpace(ch)) {
      while (i < n && isSpace(input[i])) i++;
      out += ' ';
    } else if ((ch === 'x' || ch === 'X' || ch === 'b' || ch === 'B') && next === "'" && !isWord(input[i - 1])) {
      i = skipQuoted(input, i + 1, "'");
      out += '?';
    } else if (isDigit(ch) && !isWord(input[i - 1])) {
      i++;
      while (i < n && (isWord(input[i]) || input[i] === '.')) i++; // 12, 1.5, 1e3, 0x1F
      out += '?';
    } else {
      out += ch;
      i++;
    }
  }
  const folded = out
    .replace(/ +/g, ' ')
    .trim()
    .replace(/\bIN \( ?\?(?: ?, ?\?)* ?\)/gi, 'IN (?+)')
    .replace(/\bVALUES ?\([^()]*\)(?: ?, ?\([^()]*\))*/gi, 'VALUES (?+)');
  return folded.length > MAX_FINGERPRINT_LENGTH ? `${folded.slice(0, MAX_FINGERPRINT_LENGTH)}…` : folded;
}

/** Index just past the closing quote (backslash escapes and doubled quotes respected), or the end. */
function skipQuoted(input: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < input.length) {
    const ch = input[i];
    if (ch === '\\') i += 2;
    else if (ch === quote) {
      if (input[i + 1] === quote) i += 2;
      else return i + 1;
    } else i++;
  }
  return input.length;
}

function isSpace(ch: string): boolean {
  return ch === ' ' || ch === '\n' || ch === '\t' || ch === '\r';
}

function isDigit(ch: string): boolean {
  return ch >= '0' && ch <= '9';
}

function isWord(ch: string | undefined): boolean {
  return (
    ch !== undefined &&
    (isDigit(ch) || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch === '_' || ch === '$')
  );
}
