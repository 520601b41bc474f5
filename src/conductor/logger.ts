/** The logging surface the conductor uses: pino's, narrowed so tests can pass a silent one. */
export interface LogFn {
  (obj: object, msg?: string): void;
  (msg: string): void;
}

export interface ConductorLogger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

const noop: LogFn = () => {};
export const silentLogger: ConductorLogger = { debug: noop, info: noop, warn: noop, error: noop };
