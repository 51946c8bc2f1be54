/**
 * Takes secrets and values out of an error message before it reaches a log, a response, a metric or an e-mail:
 * passwords in connection strings and `key=value` settings, and quoted literals (the values of a duplicate key,
 * a bad date, the SQL echoed by a syntax error). Quoted names of tables, columns, keys and databases stay: an
 * operator needs them and they are not data.
 */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/]*):[^\s@/]*@/gi;
const SECRET_SETTING =
  /\b(password|passwd|pwd|secret|token|api[_-]?key|authorization)(\s*[=:]\s*)(?!(?:YES|NO)\b)("[^"]*"|'[^']*'|[^\s,;&)]+)/gi;
const SYNTAX_ERROR_ECHO = /near '[\s\S]*?' at line (\d+)/g;
const QUOTED_LITERAL = /'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*"/g;
/** Words after which a quoted token is a name, not a value. */
const NAME_BEFORE =
  /(?:\b(?:key|table|column|database|index|constraint|schema|function|procedure|trigger|user|in|list|relation|role)\s*|[@.])$/i;

/**
 * The server messages that quote a value, read by their shape: MariaDB prints the value without escaping its
 * quotes (O'Brien, q'x'z), so the value runs from the opening quote to the last quote before the text that
 * follows it (greedy), whatever it holds: quotes, backslashes, newlines, any script.
 */
const VALUE_SHAPES: ReadonlyArray<readonly [RegExp, string]> = [
  [/(Duplicate entry )'[\s\S]*'( for key (?:'[^']*'|`[^`]*`))/g, '$1?$2'],
  [/(Incorrect [\w ]+? value: )'[\s\S]*'( for (?:column|function) )/g, '$1?$2'],
  [/(Truncated incorrect [\w ]+? value: )'[\s\S]*'$/g, '$1?'],
];

export function redactMessage(message: string): string {
  if (message.length === 0) return message;
  let redacted = message;
  for (const [shape, replacement] of VALUE_SHAPES) redacted = redacted.replace(shape, replacement);
  return redacted
    .replace(URL_CREDENTIALS, '$1:***@')
    .replace(SECRET_SETTING, '$1$2***')
    .replace(SYNTAX_ERROR_ECHO, 'near ? at line $1')
    .replace(QUOTED_LITERAL, (literal: string, offset: number, whole: string) =>
      NAME_BEFORE.test(whole.slice(Math.max(0, offset - 12), offset)) ? literal : '?',
    );
}
