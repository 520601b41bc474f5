/**
 * The one logging surface of the project: pino's (the agent hands in the fastify logger or
 * a child of it; the conductor its own pino), narrowed so managers, tools and tests can pass
 * any compatible object.
 */
export interface LogFn {
  (obj: object, msg?: string): void;
  (msg: string): void;
}

export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  child(bindings: Record<string, unknown>): Logger;
}

const noop: LogFn = () => {};

/** A logger that drops everything: for tools and tests that do not care. */
export const silentLogger: Logger = {
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silentLogger,
};

/**
 * `parent.child(bindings)`, made on first use: pino serialises a child's bindings when it is
 * created (~2 KB a command), and most commands (`get_clean_steps`, status reads) never log.
 */
export function lazyChild(parent: Logger, bindings: Record<string, unknown>): Logger {
  let made: Logger | undefined;
  const real = () => (made ??= parent.child(bindings));
  const forward =
    (level: 'debug' | 'info' | 'warn' | 'error'): LogFn =>
    (...args: unknown[]) => {
      const target = real(); // called as its method: pino's log functions use `this`
      (target[level] as (...a: unknown[]) => void).apply(target, args);
    };
  return {
    debug: forward('debug'),
    info: forward('info'),
    warn: forward('warn'),
    error: forward('error'),
    child: (more) => real().child(more),
  };
}
