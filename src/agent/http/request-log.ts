/**
 * What the agent logs about requests: one line per answered request in IPA's format, and
 * never the agent token, wherever it appears; and the last pass every log line of the agent
 * takes (redactLogLine).
 */
import { redactJsonFields, redactText } from '../redact.js';

/** Never log the agent token, wherever it appears in a log object. */
export const LOG_REDACTION = {
  paths: ['agent_token', 'params.agent_token', 'config.agent_token', '*.agent_token'],
  censor: '***',
};

/**
 * The URL with the value of every query parameter whose decoded name is `agent_token`
 * replaced: the query parser decodes `agent%5Ftoken=` (or any other percent-encoding of the
 * name) to the token, so the log must treat it the same.
 */
const TOKEN_OR_ESCAPE = /token|%/i;

function redactToken(url: string): string {
  const question = url.indexOf('?');
  if (question < 0) return url;
  // Without a percent-encoding, a name that decodes to agent_token contains "token" as typed:
  // the conductor's `?wait=true` polls skip the split and join below.
  if (!TOKEN_OR_ESCAPE.test(url.slice(question + 1))) return url;
  const query = url
    .slice(question + 1)
    .split('&')
    .map((pair) => {
      const equals = pair.indexOf('=');
      const rawName = equals < 0 ? pair : pair.slice(0, equals);
      let name: string;
      try {
        name = decodeURIComponent(rawName.replace(/\+/g, ' '));
      } catch {
        name = rawName;
      }
      return name.trim().toLowerCase() === 'agent_token' && equals >= 0 ? `${rawName}=***` : pair;
    })
    .join('&');
  return `${url.slice(0, question)}?${query}`;
}

/** IPA's request log: "<ip> - <METHOD> <path?query> - <status> (<ms>ms)". */
export function requestLine(ip: string, method: string, url: string, status: number, elapsedMs: number): string {
  return `${ip} - ${method} ${redactToken(url)} - ${status} (${elapsedMs.toFixed(1)}ms)`;
}

/**
 * Every line the agent logs, as pino wrote it, with the secrets redactText knows masked: the
 * tokens the agent holds by value, credentials in URLs, Swift's `temp_url_sig`, S3
 * signatures, and string fields whose names look secret (redactJsonFields: `ipmi_password`,
 * a step's `passphrase`, as a result's). The fields naming a URL are masked where they are made, but errors carry URLs
 * in their messages (a failed download's "Connection to <url> failed", a config drive's
 * fetch, a manager's own error), and pino writes each line to stdout (the console, the
 * journal) as well as to the bundle. IPA logs such URLs as they are; here a line is masked
 * once, wherever its text came from. The whole line is scanned: a line is bounded by what
 * the agent chooses to log, not by a peer.
 */
export function redactLogLine(line: string, heldTokens: readonly (string | undefined)[]): string {
  return redactJsonFields(redactText(line, heldTokens, Infinity));
}
