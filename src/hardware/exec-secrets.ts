/**
 * Secrets on a command line (`--password hunter2`) must not reach logs, errors (a step's error
 * becomes the node's `last_error`) or results. The values after well-known secret flags are
 * redacted by default; a caller names any other secret with `ExecOptions.secrets`.
 */
export const REDACTED = '***';

/** Flags whose value (next argument, or `--flag=value`) is a secret. */
export const SECRET_FLAGS: readonly string[] = [
  '--password',
  '--passwd',
  '--pass',
  '--passphrase',
  '--secret',
  '--token',
  '--api-key',
  '--auth-token',
  '--bmc-password',
  '--user-password',
];

/** The secret values among `args` (after a secret flag) plus the ones named explicitly. */
export function secretsIn(args: readonly string[], explicit: readonly string[] = []): string[] {
  const found = new Set(explicit.filter((s) => s.length > 0));
  args.forEach((arg, i) => {
    const eq = arg.indexOf('=');
    if (eq > 0 && SECRET_FLAGS.includes(arg.slice(0, eq))) found.add(arg.slice(eq + 1));
    else if (SECRET_FLAGS.includes(arg) && args[i + 1] !== undefined) found.add(args[i + 1]!);
  });
  found.delete('');
  // Longest first, so a secret that contains another is replaced whole.
  return [...found].sort((a, b) => b.length - a.length);
}

/** A function replacing every occurrence of the secrets in a text. */
export function redactor(secrets: readonly string[]): (text: string) => string {
  if (secrets.length === 0) return (text) => text;
  return (text) => secrets.reduce((out, secret) => out.split(secret).join(REDACTED), text);
}
