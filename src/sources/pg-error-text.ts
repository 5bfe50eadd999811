/**
 * What an error of Postgres may say in our messages (pure): they reach logs, run history and the
 * status API, and a data exception (SQLSTATE class 22, e.g. 22P02 `invalid input syntax for type
 * …: "<value>"`) quotes the value it could not take, so for those only the code is kept. Used by
 * the replication source and the Postgres poller.
 */
export function pgErrorText(code: string | undefined, message: string): string {
  return code?.startsWith('22') ? `a data exception (${code}); the value is not quoted here` : message;
}
