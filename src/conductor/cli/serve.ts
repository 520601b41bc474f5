/**
 * `ramdisk-agent conductor serve`: the conductor with its API (Ironic's port 6385 by default),
 * nodes in SQLite. Runs until SIGINT/SIGTERM.
 */
import { dirname, join, resolve } from 'node:path';
import { pino } from 'pino';
import { buildConductorApi } from '../api/server.js';
import { Conductor } from '../conductor.js';
import type { ConductorConfInput } from '../conf.js';
import { SqliteNodeStore } from '../store/sqlite-store.js';
import { LOG_SERIALIZERS } from '../../shared/log-serializers.js';

export interface ServeOptions {
  host: string;
  port: number;
  dbPath: string;
  conf: ConductorConfInput;
  logLevel: string;
  deployLogsDir?: string;
  /** Write the log to this file instead of stdout (the demo keeps its screen for people). */
  logFile?: string;
}

export interface ServingConductor {
  conductor: Conductor;
  url: string;
  close(): Promise<void>;
}

export async function startConductorService(options: ServeOptions): Promise<ServingConductor> {
  const log = pino(
    { level: options.logLevel, base: { component: 'conductor' }, serializers: LOG_SERIALIZERS },
    options.logFile ? pino.destination({ dest: options.logFile, sync: true }) : undefined,
  );
  const store = new SqliteNodeStore(options.dbPath);
  const conf = {
    ...options.conf,
    agent: { certificatesPath: join(dirname(resolve(options.dbPath)), 'agent-certificates'), ...options.conf.agent },
  };
  const conductor = new Conductor({
    store,
    conf,
    log,
    ...(options.deployLogsDir ? { deployLogsDir: options.deployLogsDir } : {}),
  });
  const app = buildConductorApi({ conductor });
  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address() as { port: number };
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const url = `http://${host}:${address.port}`;
  if (!options.conf.api?.publicUrl) conductor.conf.api.publicUrl = url;
  await conductor.start();
  log.info({ url, db: options.dbPath }, 'conductor API listening');
  return {
    conductor,
    url,
    async close() {
      await app.close();
      await conductor.stop();
      store.close();
    },
  };
}
