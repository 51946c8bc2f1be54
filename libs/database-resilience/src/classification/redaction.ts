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
  /(?:\b(?:key|table|column|database|index|constraint|schema|function|procedure|trigger|user|in|list)\s*|[@.])$/i;

export function redactMessage(message: string): string {
  if (message.length === 0) return message;
  return message
    .replace(URL_CREDENTIALS, '$1:***@')
    .replace(SECRET_SETTING, '$1$2***')
    .replace(SYNTAX_ERROR_ECHO, 'near ? at line $1')
    .replace(QUOTED_LITERAL, (literal: string, offset: number, whole: string) =>
      NAME_BEFORE.test(whole.slice(Math.max(0, offset - 12), offset)) ? literal : '?',
    );
}
