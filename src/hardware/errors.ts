/**
 * The errors of the hardware contract, declared once as data.
 *
 * Each entry mirrors one of IPA's RESTError subclasses: the wire form
 * `{type, code, message, details}` is what a stock Ironic conductor reads from a failed
 * command (`details` becomes the node's `last_error`), so types and summaries are IPA's.
 * The wire `type` comes from the table, never from a class name, so bundling, minifying or
 * renaming a class cannot change the wire (fastify's `createError`, IPA's class attributes).
 * Nothing here knows about HTTP: `code` is IPA's "http-ish" code carried inside the command
 * result; the agent's HTTP edge decides what status to answer with.
 */
import { pythonRepr } from '../shared/python-repr.js';

export { pythonRepr };

/** Brand that survives duplicated copies of this module (a plugin that bundled the contract). */
const kIpaError = Symbol.for('ramdisk-agent.IpaError');

export interface WireError {
  type: string;
  code: number;
  message: string;
  details: string;
}

/** One error's wire identity: IPA's class name, its class-level message and its code. */
export interface IpaErrorSpec {
  readonly type: string;
  readonly summary: string;
  readonly code: number;
}

/** `{Type: [summary, code?]}` → `{Type: {type, summary, code}}`: the key is the wire type. */
export function errorTable<const T extends Record<string, readonly [summary: string, code?: number]>>(
  rows: T,
): { readonly [K in keyof T]: IpaErrorSpec & { readonly type: K } } {
  const table: Record<string, IpaErrorSpec> = {};
  for (const [type, [summary, code = 500]] of Object.entries(rows)) table[type] = Object.freeze({ type, summary, code });
  return Object.freeze(table) as { readonly [K in keyof T]: IpaErrorSpec & { readonly type: K } };
}

export class IpaError extends Error {
  /** The spec every instance of this class carries; subclasses override it (see `defineIpaError`). */
  static readonly spec: IpaErrorSpec = { type: 'RESTError', summary: 'An unknown error occurred', code: 500 };

  readonly [kIpaError] = true;
  /** IPA's class name, e.g. `CleaningError`; Ironic special-cases some (`TypeError`). */
  readonly type: string;
  readonly code: number;
  /** IPA's class-level message, e.g. `Clean step failed`. */
  readonly summary: string;
  readonly details: string;
  /** This error's wire type followed by those of the errors it refines, for `is()`. */
  readonly lineage: readonly string[];

  constructor(details: string, options?: ErrorOptions) {
    const spec = (new.target as typeof IpaError).spec;
    super(`${spec.summary}: ${details}`, options);
    this.type = spec.type;
    this.name = spec.type;
    this.code = spec.code;
    this.summary = spec.summary;
    this.details = details;
    this.lineage = lineageOf(new.target as typeof IpaError);
  }

  toWire(): WireError {
    return { type: this.type, code: this.code, message: this.summary, details: this.details };
  }

  /**
   * Typed recognition by wire type: `CleaningError.is(error)`. Unlike `instanceof` it also
   * recognises errors made by another copy of the contract (a plugin that bundled its own).
   */
  static is<T extends IpaErrorClass>(this: T, value: unknown): value is InstanceType<T> {
    return isIpaError(value) && ((this as unknown) === IpaError || (value.lineage ?? [value.type]).includes(this.spec.type));
  }
}

function lineageOf(cls: typeof IpaError): string[] {
  const types: string[] = [];
  for (let c: unknown = cls; typeof c === 'function' && c !== IpaError; c = Object.getPrototypeOf(c)) {
    const type = (c as typeof IpaError).spec.type;
    if (!types.includes(type)) types.push(type);
  }
  return types;
}

/** Any class of the `IpaError` family, whatever its constructor's arguments. */
export type IpaErrorClass = (abstract new (...args: any[]) => IpaError) & { readonly spec: IpaErrorSpec };

/**
 * A class for one error spec, to extend: `class AcmeFlashError extends defineIpaError({type:
 * 'AcmeFlashError', summary: 'Firmware update failed', code: 500}) {}`. Pass `Base` to refine
 * an existing error (it stays recognisable by `Base.is()`).
 */
export function defineIpaError<B extends IpaErrorClass = typeof IpaError>(spec: IpaErrorSpec, Base?: B): B {
  const base = (Base ?? IpaError) as unknown as typeof IpaError;
  const frozen = Object.freeze({ ...spec });
  const cls = class extends base {
    static override readonly spec = frozen;
  };
  return cls as unknown as B;
}

export function isIpaError(value: unknown): value is IpaError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kIpaError] === true;
}

/** Any thrown value as IPA's wire shape; non-IPA errors keep their runtime name as `type`. */
export function toWireError(error: unknown, wrap?: (message: string) => IpaError): WireError {
  if (isIpaError(error)) return error.toWire();
  if (wrap) return wrap(describeError(error)).toWire();
  const type = error instanceof Error ? error.name : 'Error';
  return { type, code: 500, message: 'Command execution failed', details: describeError(error) };
}

/** `Class: message`, the way IPA renders an unexpected exception inside a step error. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return `Error: ${String(error)}`;
}

/** The contract's errors (IPA's `errors.py` names, summaries and codes). */
export const HARDWARE_ERRORS = errorTable({
  CommandExecutionError: ['Command execution failed'],
  InvalidCommandParamsError: ['Invalid command parameters', 400],
  CleaningError: ['Clean step failed'],
  DeploymentError: ['Deploy step failed'],
  ServicingError: ['Service step failed'],
  VersionMismatch: ['Hardware managers version mismatch, reload agent with correct version', 409],
  HardwareManagerNotFound: ['No valid HardwareManager found'],
  HardwareManagerMethodNotFound: ['No HardwareManager found to handle method'],
  IncompatibleHardwareMethodError: ['HardwareManager method is not compatible with hardware'],
  HardwareManagerConfigurationError: ['Hardware manager configuration error'],
  BlockDeviceEraseError: ['Error erasing block device'],
  BlockDeviceError: ['Block device caused unknown error'],
  SoftwareRAIDError: ['Software RAID caused unknown error'],
  DeviceNotFound: ['Error finding the disk or partition device to deploy the image onto', 404],
  ProtectedDeviceError: ['Protected device located, cleaning aborted.'],
  ImageDownloadError: ['Error downloading image'],
  ImageDownloadOutofSpaceError: ['Error downloading image'],
  ImageChecksumError: ['Error verifying image checksum'],
  ImageWriteError: ['Error writing image to device'],
  InvalidImage: ['The image is invalid'],
  ConfigDriveTooLargeError: ['Configdrive is too large for intended partition'],
  ConfigDriveWriteError: ['Error writing configdrive to device'],
  ExecError: ['Command execution failed'],
});
const E = HARDWARE_ERRORS;

export class CommandExecutionError extends defineIpaError(E.CommandExecutionError) {}
export class InvalidCommandParamsError extends defineIpaError(E.InvalidCommandParamsError) {}
export class CleaningError extends defineIpaError(E.CleaningError) {}
export class DeploymentError extends defineIpaError(E.DeploymentError) {}
export class ServicingError extends defineIpaError(E.ServicingError) {}
export class BlockDeviceEraseError extends defineIpaError(E.BlockDeviceEraseError) {}
export class BlockDeviceError extends defineIpaError(E.BlockDeviceError) {}
export class SoftwareRAIDError extends defineIpaError(E.SoftwareRAIDError) {}
/** A manager is misconfigured: dispatch stops instead of falling through. */
export class HardwareManagerConfigurationError extends defineIpaError(E.HardwareManagerConfigurationError) {}
export class InvalidImage extends defineIpaError(E.InvalidImage) {}
export class DeviceNotFound extends defineIpaError(E.DeviceNotFound) {}

export class VersionMismatch extends defineIpaError(E.VersionMismatch) {
  constructor(current: Record<string, string>, used: unknown) {
    super(`Current versions: ${pythonRepr(current)}, versions used by ironic: ${pythonRepr(used)}`);
  }
}

export class HardwareManagerNotFound extends defineIpaError(E.HardwareManagerNotFound) {
  constructor(details = 'No hardware manager reported support for this machine') {
    super(details);
  }
}

export class HardwareManagerMethodNotFound extends defineIpaError(E.HardwareManagerMethodNotFound) {
  constructor(method: string) {
    super(`Could not find method: ${method}`);
  }
}

/** Thrown by a manager to say "not on this hardware": dispatch falls through to the next manager. */
export class IncompatibleHardwareMethodError extends defineIpaError(E.IncompatibleHardwareMethodError) {
  constructor(details = 'This hardware manager cannot handle this method on this machine') {
    super(details);
  }
}

/** A destructive action was refused by the safety guard; the device is left untouched. */
export class ProtectedDeviceError extends defineIpaError(E.ProtectedDeviceError) {
  readonly device: string;
  readonly reason: string;
  constructor(device: string, reason: string) {
    super(`Refusing to write to ${device}: ${reason}`);
    this.device = device;
    this.reason = reason;
  }
}

// --- Image writing (IPA's errors.py detail formats) ---

export class ImageDownloadError extends defineIpaError(E.ImageDownloadError) {
  readonly imageId: string;
  constructor(imageId: string, reason: string, options?: ErrorOptions) {
    super(`Download of image ${imageId} failed: ${reason}`, options);
    this.imageId = imageId;
  }
}

/** The scratch space or device ran out of room while downloading (never retried). */
export class ImageDownloadOutofSpaceError extends defineIpaError(E.ImageDownloadOutofSpaceError, ImageDownloadError) {}

export class ImageChecksumError extends defineIpaError(E.ImageChecksumError) {
  readonly expected: string;
  readonly actual: string;
  constructor(imageId: string, location: string, expected: string, actual: string) {
    super(
      `Image failed to verify against checksum. location: ${location}; image ID: ${imageId}; ` +
        `image checksum: ${expected}; verification checksum: ${actual}`,
    );
    this.expected = expected;
    this.actual = actual;
  }
}

export class ImageWriteError extends defineIpaError(E.ImageWriteError) {
  constructor(device: string, exitCode: number | string, stdout: string, stderr: string, options?: ErrorOptions) {
    super(`Writing image to device ${device} failed with exit code ${exitCode}. stdout: ${stdout}. stderr: ${stderr}`, options);
  }
}

export class ConfigDriveTooLargeError extends defineIpaError(E.ConfigDriveTooLargeError) {
  constructor(location: string, sizeBytes: number) {
    super(`Configdrive at ${location} has size ${sizeBytes}, which is larger than the intended partition.`);
  }
}

export class ConfigDriveWriteError extends defineIpaError(E.ConfigDriveWriteError) {
  constructor(device: string, exitCode: number | string, stdout: string, stderr: string) {
    super(`Writing configdrive to device ${device} failed with exit code ${exitCode}. stdout: ${stdout}. stderr: ${stderr}.`);
  }
}
