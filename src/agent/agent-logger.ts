/**
 * The agent's logger: pino with the token redacted, teeing every line into the in-memory log
 * buffer (collect_system_logs). Every line also passes redactLogLine (request-log.ts) before
 * it is written: `heldTokens` names the tokens the agent holds by then (the lookup's arrives
 * after the logger is made).
 */
import { pino, type LoggerOptions } from 'pino';
import type { Logger } from '../hardware/logger.js';
import { LOG_SERIALIZERS } from '../shared/log-serializers.js';
import { LOG_REDACTION, redactLogLine } from './http/request-log.js';
import type { LogBuffer } from './log-buffer.js';

/** false: silent; pino options (and a `stream` to write to), as tests give; undefined: `level`. */
export type AgentLoggerOptions = false | (LoggerOptions & { stream?: NodeJS.WritableStream }) | undefined;

export function createAgentLogger(
  given: AgentLoggerOptions,
  level: string,
  buffer: LogBuffer,
  heldTokens: () => readonly (string | undefined)[],
): Logger & pino.Logger {
  const base: LoggerOptions & { stream?: NodeJS.WritableStream } = given === false ? { level: 'silent' } : (given ?? { level });
  const { stream, ...pinoOptions } = base;
  return pino(
    {
      redact: LOG_REDACTION,
      serializers: LOG_SERIALIZERS,
      hooks: { streamWrite: (line) => redactLogLine(line, heldTokens()) },
      ...pinoOptions,
    },
    buffer.tee(stream ?? process.stdout),
  ) as Logger & pino.Logger;
}
