/**
 * The default node store: SQLite through better-sqlite3 (synchronous: a conductor task is
 * short and touches one node). Columns the filters need are real columns; the rest of the
 * node is one JSON document, so adding an Ironic field needs no migration.
 */
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { NodeAlreadyExists, NodeLocked, NodeNotFound } from '../errors.js';
import type { NodeData, Port } from '../node.js';
import { states } from '../states.js';
import { DEFAULT_INTERFACES, type NodeCreate, type NodeField, type NodeFilters, type NodeStore } from './node-store.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS nodes (
  uuid TEXT PRIMARY KEY,
  name TEXT UNIQUE,
  driver TEXT NOT NULL,
  provision_state TEXT NOT NULL,
  maintenance INTEGER NOT NULL DEFAULT 0,
  reserved TEXT,
  provision_updated_at TEXT,
  data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS nodes_provision_state ON nodes (provision_state);
CREATE TABLE IF NOT EXISTS ports (
  uuid TEXT PRIMARY KEY,
  node_uuid TEXT NOT NULL REFERENCES nodes (uuid) ON DELETE CASCADE,
  address TEXT NOT NULL UNIQUE
);
`;

interface NodeRow {
  uuid: string;
  reserved: string | null;
  data: string;
}

function now(): string {
  return new Date().toISOString();
}

export class SqliteNodeStore implements NodeStore {
  readonly #db: Database.Database;

  /** `path` is a file, or `:memory:` for a throw-away store. */
  constructor(readonly path: string) {
    this.#db = new Database(path);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('foreign_keys = ON');
    this.#db.exec(SCHEMA);
  }

  createNode(init: NodeCreate): NodeData {
    const node: NodeData = {
      uuid: init.uuid ?? randomUUID(),
      name: init.name ?? null,
      driver: init.driver ?? 'fake-hardware',
      interfaces: { ...DEFAULT_INTERFACES, ...init.interfaces },
      provisionState: states.ENROLL,
      targetProvisionState: null,
      powerState: null,
      maintenance: false,
      maintenanceReason: null,
      fault: null,
      lastError: null,
      reserved: null,
      cleanStep: null,
      deployStep: null,
      automatedClean: init.automatedClean ?? null,
      driverInfo: init.driverInfo ?? {},
      driverInternalInfo: {},
      instanceInfo: init.instanceInfo ?? {},
      properties: init.properties ?? {},
      targetRaidConfig: {},
      raidConfig: {},
      provisionUpdatedAt: null,
      createdAt: now(),
      updatedAt: null,
    };
    try {
      this.#db
        .prepare(
          'INSERT INTO nodes (uuid, name, driver, provision_state, maintenance, reserved, provision_updated_at, data) VALUES (?, ?, ?, ?, 0, NULL, NULL, ?)',
        )
        .run(node.uuid, node.name, node.driver, node.provisionState, this.#serialise(node));
    } catch (error) {
      if ((error as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT')) {
        throw new NodeAlreadyExists(`A node with UUID ${node.uuid} or name ${node.name} already exists.`);
      }
      throw error;
    }
    return node;
  }

  getNode(ident: string): NodeData {
    const row = this.#db.prepare('SELECT uuid, reserved, data FROM nodes WHERE uuid = ? OR name = ?').get(ident, ident) as
      NodeRow | undefined;
    if (!row) throw new NodeNotFound(ident);
    return this.#deserialise(row);
  }

  saveNode(node: NodeData): void {
    node.updatedAt = now();
    const result = this.#db
      .prepare(
        'UPDATE nodes SET name = ?, driver = ?, provision_state = ?, maintenance = ?, provision_updated_at = ?, data = ? WHERE uuid = ?',
      )
      .run(
        node.name,
        node.driver,
        node.provisionState,
        node.maintenance ? 1 : 0,
        node.provisionUpdatedAt,
        this.#serialise(node),
        node.uuid,
      );
    if (result.changes === 0) throw new NodeNotFound(node.uuid);
  }

  deleteNode(uuid: string): void {
    this.#db.prepare('DELETE FROM nodes WHERE uuid = ?').run(uuid);
  }

  getNodeinfoList(
    options: { fields?: readonly NodeField[]; filters?: NodeFilters } = {},
  ): Array<Partial<NodeData> & Pick<NodeData, 'uuid' | 'driver'>> {
    const where: string[] = [];
    const params: unknown[] = [];
    const f = options.filters ?? {};
    if (f.reserved !== undefined) where.push(f.reserved ? 'reserved IS NOT NULL' : 'reserved IS NULL');
    if (f.reservedByAnyOf) {
      where.push(`reserved IN (${f.reservedByAnyOf.map(() => '?').join(', ') || 'NULL'})`);
      params.push(...f.reservedByAnyOf);
    }
    if (f.provisionState !== undefined) {
      where.push('provision_state = ?');
      params.push(f.provisionState);
    }
    if (f.provisionStateIn) {
      where.push(`provision_state IN (${f.provisionStateIn.map(() => '?').join(', ') || 'NULL'})`);
      params.push(...f.provisionStateIn);
    }
    if (f.maintenance !== undefined) {
      where.push('maintenance = ?');
      params.push(f.maintenance ? 1 : 0);
    }
    if (f.provisionedBefore !== undefined) {
      where.push('provision_updated_at IS NOT NULL AND provision_updated_at < ?');
      params.push(new Date(Date.now() - f.provisionedBefore * 1000).toISOString());
    }
    if (f.driver !== undefined) {
      where.push('driver = ?');
      params.push(f.driver);
    }
    if (f.uuidIn) {
      where.push(`uuid IN (${f.uuidIn.map(() => '?').join(', ') || 'NULL'})`);
      params.push(...f.uuidIn);
    }
    const sql = `SELECT uuid, reserved, data FROM nodes${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY provision_updated_at, uuid`;
    const rows = this.#db.prepare(sql).all(...params) as NodeRow[];
    return rows.map((row) => {
      const node = this.#deserialise(row);
      const picked: Partial<NodeData> & Pick<NodeData, 'uuid' | 'driver'> = { uuid: node.uuid, driver: node.driver };
      for (const field of options.fields ?? []) (picked as Record<string, unknown>)[field] = node[field];
      return picked;
    });
  }

  reserveNode(uuid: string, host: string): void {
    const result = this.#db.prepare('UPDATE nodes SET reserved = ? WHERE uuid = ? AND reserved IS NULL').run(host, uuid);
    if (result.changes === 1) return;
    const row = this.#db.prepare('SELECT reserved FROM nodes WHERE uuid = ?').get(uuid) as
      { reserved: string | null } | undefined;
    if (!row) throw new NodeNotFound(uuid);
    throw new NodeLocked(uuid, row.reserved ?? 'unknown');
  }

  releaseNode(uuid: string, host: string): void {
    this.#db.prepare('UPDATE nodes SET reserved = NULL WHERE uuid = ? AND reserved = ?').run(uuid, host);
  }

  clearReservations(host: string): void {
    this.#db.prepare('UPDATE nodes SET reserved = NULL WHERE reserved = ?').run(host);
  }

  createPort(nodeUuid: string, address: string): Port {
    const port: Port = { uuid: randomUUID(), nodeUuid, address: address.toLowerCase() };
    try {
      this.#db
        .prepare('INSERT INTO ports (uuid, node_uuid, address) VALUES (?, ?, ?)')
        .run(port.uuid, port.nodeUuid, port.address);
    } catch (error) {
      if ((error as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT')) {
        throw new NodeAlreadyExists(`A port with MAC address ${port.address} already exists.`);
      }
      throw error;
    }
    return port;
  }

  getPorts(nodeUuid: string): Port[] {
    return (
      this.#db.prepare('SELECT uuid, node_uuid, address FROM ports WHERE node_uuid = ? ORDER BY address').all(nodeUuid) as Array<{
        uuid: string;
        node_uuid: string;
        address: string;
      }>
    ).map((r) => ({ uuid: r.uuid, nodeUuid: r.node_uuid, address: r.address }));
  }

  findNodeByAddresses(addresses: readonly string[]): NodeData | undefined {
    if (addresses.length === 0) return undefined;
    const lower = addresses.map((a) => a.toLowerCase());
    const row = this.#db
      .prepare(`SELECT node_uuid FROM ports WHERE address IN (${lower.map(() => '?').join(', ')}) LIMIT 1`)
      .get(...lower) as { node_uuid: string } | undefined;
    return row ? this.getNode(row.node_uuid) : undefined;
  }

  close(): void {
    this.#db.close();
  }

  #serialise(node: NodeData): string {
    const { reserved: _reserved, ...rest } = node;
    return JSON.stringify(rest);
  }

  #deserialise(row: NodeRow): NodeData {
    return { ...(JSON.parse(row.data) as Omit<NodeData, 'reserved'>), reserved: row.reserved };
  }
}
