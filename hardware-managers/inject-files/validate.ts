/**
 * IPA's `inject_files._validate_files`: the node's `properties.inject_files` then the step's
 * `files`, each checked, every problem reported in one InvalidCommandParamsError with IPA's
 * wording. Two additions on purpose: a path that climbs out of its partition (`..`) is
 * refused, and file contents are masked in messages (they may carry keys or passwords).
 */
import { posix } from 'node:path';
import { InvalidCommandParamsError, pythonRepr } from '../../src/hardware/index.js';

export interface FileSpec {
  path: string;
  partition?: string | number | null;
  content?: string | null;
  deleted?: boolean;
  mode?: number;
  dirmode?: number;
  owner?: number;
  group?: number;
}

const KNOWN_FIELDS = new Set(['path', 'partition', 'content', 'deleted', 'mode', 'dirmode', 'owner', 'group']);

/** The file as messages show it: like IPA's `%s` of the dict, with the content masked. */
export function describeFile(file: unknown): string {
  if (typeof file !== 'object' || file === null || Array.isArray(file)) return pythonRepr(file);
  const shown = { ...(file as Record<string, unknown>) };
  if (typeof shown.content === 'string' && !shown.content.includes('://')) shown.content = '***';
  return pythonRepr(shown);
}

/** `etc/x`, as IPA's `os.path.normpath(path.strip('/'))`. */
export function normalizedPath(path: string): string {
  return posix.normalize(path.replace(/^\/+|\/+$/g, ''));
}

export function validateFiles(fromProperties: unknown, fromArgs: unknown): FileSpec[] {
  if (!Array.isArray(fromProperties)) {
    throw new InvalidCommandParamsError(`The \`inject_files\` node property must be a list, got ${pythonType(fromProperties)}`);
  }
  if (!Array.isArray(fromArgs)) {
    throw new InvalidCommandParamsError(`The \`files\` argument must be a list, got ${pythonType(fromArgs)}`);
  }
  const files: unknown[] = [...fromProperties, ...fromArgs];
  const failures: string[] = [];
  for (const raw of files) {
    const fl = (typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? raw : {}) as Record<string, unknown>;
    const shown = describeFile(raw);
    const unknown = Object.keys(fl).filter((k) => !KNOWN_FIELDS.has(k));
    if (unknown.length > 0) failures.push(`unexpected fields in ${shown}: ${unknown.join(', ')}`);
    const path = fl.path;
    if (!path || typeof path !== 'string') failures.push(`expected a path in ${shown}`);
    else if (posix.dirname(path) === '/' && !fl.partition) failures.push(`${shown} in root directory requires "partition"`);
    else if (path.endsWith('/')) failures.push(`directories not supported for ${shown}`);
    else if (normalizedPath(path) === '..' || normalizedPath(path).startsWith('../')) {
      failures.push(`${shown} points outside of its partition`);
    }
    if (fl.content && fl.deleted) failures.push(`content cannot be used with deleted in ${shown}`);
    for (const field of ['owner', 'group', 'mode', 'dirmode']) {
      if (field in fl && !Number.isInteger(fl[field])) failures.push(`${field} must be a number in ${shown}`);
    }
  }
  if (failures.length > 0) throw new InvalidCommandParamsError(`Validation of files failed: ${failures.join('; ')}`);
  return files as FileSpec[];
}

function pythonType(value: unknown): string {
  if (value === null || value === undefined) return 'NoneType';
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'string') return 'str';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  return 'dict';
}
