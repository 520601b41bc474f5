// The wire form of every error ({type, code, message}) is what a stock conductor reads from a
// failed command: pinned here against literal strings, and checked again on a minified build
// whose class names are mangled, so no class rename or bundling can change the wire.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as agentErrors from '../../src/agent/errors.js';
import * as hardwareErrors from '../../src/hardware/errors.js';
import { LOG_SERIALIZERS } from '../../src/shared/log-serializers.js';

type ErrorModules = { hardware: typeof hardwareErrors; agent: typeof agentErrors };

/** [wire type, code, summary, a constructor call] for every error the agent can report. */
const PINNED: [string, number, string, (m: ErrorModules) => hardwareErrors.IpaError][] = [
  ['CommandExecutionError', 500, 'Command execution failed', (m) => new m.hardware.CommandExecutionError('x')],
  ['InvalidCommandParamsError', 400, 'Invalid command parameters', (m) => new m.hardware.InvalidCommandParamsError('x')],
  ['CleaningError', 500, 'Clean step failed', (m) => new m.hardware.CleaningError('x')],
  ['DeploymentError', 500, 'Deploy step failed', (m) => new m.hardware.DeploymentError('x')],
  ['ServicingError', 500, 'Service step failed', (m) => new m.hardware.ServicingError('x')],
  [
    'VersionMismatch',
    409,
    'Hardware managers version mismatch, reload agent with correct version',
    (m) => new m.hardware.VersionMismatch({ a: '1' }, { a: '2' }),
  ],
  ['HardwareManagerNotFound', 500, 'No valid HardwareManager found', (m) => new m.hardware.HardwareManagerNotFound()],
  [
    'HardwareManagerMethodNotFound',
    500,
    'No HardwareManager found to handle method',
    (m) => new m.hardware.HardwareManagerMethodNotFound('x'),
  ],
  [
    'IncompatibleHardwareMethodError',
    500,
    'HardwareManager method is not compatible with hardware',
    (m) => new m.hardware.IncompatibleHardwareMethodError(),
  ],
  [
    'HardwareManagerConfigurationError',
    500,
    'Hardware manager configuration error',
    (m) => new m.hardware.HardwareManagerConfigurationError('x'),
  ],
  ['BlockDeviceEraseError', 500, 'Error erasing block device', (m) => new m.hardware.BlockDeviceEraseError('x')],
  ['BlockDeviceError', 500, 'Block device caused unknown error', (m) => new m.hardware.BlockDeviceError('x')],
  ['SoftwareRAIDError', 500, 'Software RAID caused unknown error', (m) => new m.hardware.SoftwareRAIDError('x')],
  [
    'DeviceNotFound',
    404,
    'Error finding the disk or partition device to deploy the image onto',
    (m) => new m.hardware.DeviceNotFound('x'),
  ],
  [
    'ProtectedDeviceError',
    500,
    'Protected device located, cleaning aborted.',
    (m) => new m.hardware.ProtectedDeviceError('/dev/x', 'y'),
  ],
  ['ImageDownloadError', 500, 'Error downloading image', (m) => new m.hardware.ImageDownloadError('i', 'r')],
  ['ImageDownloadOutofSpaceError', 500, 'Error downloading image', (m) => new m.hardware.ImageDownloadOutofSpaceError('i', 'r')],
  ['ImageChecksumError', 500, 'Error verifying image checksum', (m) => new m.hardware.ImageChecksumError('i', 'l', 'a', 'b')],
  ['ImageWriteError', 500, 'Error writing image to device', (m) => new m.hardware.ImageWriteError('/dev/x', 1, '', '')],
  ['InvalidImage', 500, 'The image is invalid', (m) => new m.hardware.InvalidImage('x')],
  [
    'ConfigDriveTooLargeError',
    500,
    'Configdrive is too large for intended partition',
    (m) => new m.hardware.ConfigDriveTooLargeError('l', 1),
  ],
  [
    'ConfigDriveWriteError',
    500,
    'Error writing configdrive to device',
    (m) => new m.hardware.ConfigDriveWriteError('/dev/x', 1, '', ''),
  ],
  ['InvalidContentError', 400, 'Invalid request body', (m) => new m.agent.InvalidContentError('x')],
  ['InvalidCommandError', 400, 'Invalid command', (m) => new m.agent.InvalidCommandError('x')],
  ['NotFound', 404, 'Not found', (m) => new m.agent.NotFound()],
  ['RequestedObjectNotFoundError', 404, 'Not found', (m) => new m.agent.RequestedObjectNotFoundError('Command', 'x')],
  ['AgentIsBusy', 409, 'Agent is busy', (m) => new m.agent.AgentIsBusy('x')],
  ['LookupNodeError', 500, 'Error getting configuration from Ironic', (m) => new m.agent.LookupNodeError('x')],
  ['LookupAgentIPError', 500, 'Error finding IP for Ironic Agent', (m) => new m.agent.LookupAgentIPError('x')],
  ['HeartbeatError', 500, 'Error heartbeating to agent API', (m) => new m.agent.HeartbeatError('x')],
  ['HeartbeatConflictError', 409, 'ConflictError heartbeating to agent API', (m) => new m.agent.HeartbeatConflictError('x')],
  [
    'HeartbeatConnectionError',
    500,
    'Error attempting to heartbeat - Possible transitory network failure or blocking port may be present.',
    (m) => new m.agent.HeartbeatConnectionError('x'),
  ],
  ['SystemRebootError', 500, 'Error rebooting system', (m) => new m.agent.SystemRebootError('x')],
];

let scratch: string;
let minified: ErrorModules;

beforeAll(async () => {
  // A minified bundle without keepNames: every class name is mangled.
  scratch = mkdtempSync(join(tmpdir(), 'error-wire-'));
  const outfile = join(scratch, 'errors.mjs');
  await build({
    stdin: {
      contents: `export * as hardware from './src/hardware/errors.ts'; export * as agent from './src/agent/errors.ts';`,
      resolveDir: join(import.meta.dirname, '..', '..'),
      loader: 'ts',
    },
    bundle: true,
    format: 'esm',
    platform: 'node',
    minify: true,
    keepNames: false,
    outfile,
    logLevel: 'silent',
  });
  minified = (await import(pathToFileURL(outfile).href)) as ErrorModules;
}, 60_000);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('error wire types', () => {
  it('every table entry is pinned here (a new error needs a pinned wire type)', () => {
    const declared = [
      ...Object.keys(hardwareErrors.HARDWARE_ERRORS).filter((t) => t !== 'ExecError'),
      ...Object.keys(agentErrors.AGENT_ERRORS).filter((t) => t !== 'HeartbeatRejectedError'),
    ].sort();
    expect(declared).toEqual(PINNED.map(([type]) => type).sort());
  });

  it.each(PINNED)('%s has code %i and IPA summary', (type, code, summary, make) => {
    const wire = make({ hardware: hardwareErrors, agent: agentErrors }).toWire();
    expect({ type: wire.type, code: wire.code, message: wire.message }).toEqual({ type, code, message: summary });
  });

  it.each(PINNED)('%s keeps its wire type and code in a minified build', (type, code, summary, make) => {
    const error = make(minified);
    expect(error.constructor.name).not.toBe(type);
    expect({ type: error.type, code: error.code, message: error.summary }).toEqual({ type, code, message: summary });
  });

  it('is() recognises errors made by another copy of the contract, and refinements by their base', () => {
    const fromCopy = new minified.hardware.ImageDownloadOutofSpaceError('img', 'disk full');
    expect(hardwareErrors.ImageDownloadOutofSpaceError.is(fromCopy)).toBe(true);
    expect(hardwareErrors.ImageDownloadError.is(fromCopy)).toBe(true);
    expect(hardwareErrors.CleaningError.is(fromCopy)).toBe(false);
    expect(hardwareErrors.IpaError.is(fromCopy)).toBe(true);
    expect(agentErrors.InvalidContentError.is(new agentErrors.InvalidCommandError('x'))).toBe(true);
    expect(hardwareErrors.CleaningError.is(new Error('CleaningError'))).toBe(false);
  });

  it('a vendor error declared with defineIpaError carries its own wire type', () => {
    class AcmeFlashError extends hardwareErrors.defineIpaError({
      type: 'AcmeFlashError',
      summary: 'Firmware update failed',
      code: 500,
    }) {}
    const minifiedName = class extends AcmeFlashError {};
    expect(new AcmeFlashError('bad image').toWire()).toEqual({
      type: 'AcmeFlashError',
      code: 500,
      message: 'Firmware update failed',
      details: 'bad image',
    });
    expect(new minifiedName('x').type).toBe('AcmeFlashError');
  });

  it('a minified error is logged under its wire type, not its mangled class name', () => {
    const lines: string[] = [];
    const log = pino({ serializers: LOG_SERIALIZERS }, { write: (line: string) => void lines.push(line) });
    log.error({ err: new minified.hardware.CleaningError('disk /dev/sdb failed') }, 'command failed');
    log.error({ err: new TypeError('bad') }, 'plain');
    const [cleaning, plain] = lines.map((line) => JSON.parse(line) as { err: { type: string; message: string } });
    expect(cleaning!.err.type).toBe('CleaningError');
    expect(cleaning!.err.message).toBe('Clean step failed: disk /dev/sdb failed');
    expect(plain!.err.type).toBe('TypeError');
  });
});
