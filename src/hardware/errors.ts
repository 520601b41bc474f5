/**
 * The error registry shared by the agent and every hardware manager.
 *
 * Each class mirrors one of IPA's RESTError subclasses: the wire form
 * `{type, code, message, details}` is what a stock Ironic conductor reads from a failed
 * command (`details` becomes the node's `last_error`), so class names and summaries are
 * IPA's. Nothing here knows about HTTP: `code` is IPA's "http-ish" code carried inside
 * the command result; the agent's HTTP edge decides what status to answer with.
 */

/** Brand that survives duplicated copies of this module (a plugin that bundled the contract). */
const kIpaError = Symbol.for('ramdisk-agent.IpaError');

export interface WireError {
  type: string;
  code: number;
  message: string;
  details: string;
}

export class IpaError extends Error {
  readonly [kIpaError] = true;
  /** IPA's class name, e.g. `CleaningError`; Ironic special-cases some (`TypeError`). */
  readonly type: string;
  readonly code: number;
  /** IPA's class-level message, e.g. `Clean step failed`. */
  readonly summary: string;
  readonly details: string;

  constructor(summary: string, details: string, code = 500, options?: ErrorOptions) {
    super(`${summary}: ${details}`, options);
    this.type = new.target.name;
    this.name = new.target.name;
    this.code = code;
    this.summary = summary;
    this.details = details;
  }

  toWire(): WireError {
    return { type: this.type, code: this.code, message: this.summary, details: this.details };
  }
}

export function isIpaError(value: unknown): value is IpaError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kIpaError] === true;
}

/** Any thrown value as IPA's wire shape; non-IPA errors keep their class name as `type`. */
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

export class CommandExecutionError extends IpaError {
  constructor(details: string, options?: ErrorOptions) {
    super('Command execution failed', details, 500, options);
  }
}

export class InvalidCommandParamsError extends IpaError {
  constructor(details: string, options?: ErrorOptions) {
    super('Invalid command parameters', details, 400, options);
  }
}

export class CleaningError extends IpaError {
  constructor(details: string, options?: ErrorOptions) {
    super('Clean step failed', details, 500, options);
  }
}

export class DeploymentError extends IpaError {
  constructor(details: string, options?: ErrorOptions) {
    super('Deploy step failed', details, 500, options);
  }
}

export class ServicingError extends IpaError {
  constructor(details: string, options?: ErrorOptions) {
    super('Service step failed', details, 500, options);
  }
}

export class VersionMismatch extends IpaError {
  constructor(current: Record<string, string>, used: unknown) {
    super(
      'Hardware managers version mismatch, reload agent with correct version',
      `Current versions: ${pythonRepr(current)}, versions used by ironic: ${pythonRepr(used)}`,
      409,
    );
  }
}

export class HardwareManagerNotFound extends IpaError {
  constructor(details = 'No hardware manager reported support for this machine') {
    super('No valid HardwareManager found', details);
  }
}

export class HardwareManagerMethodNotFound extends IpaError {
  constructor(method: string) {
    super('No HardwareManager found to handle method', `Could not find method: ${method}`);
  }
}

/** Thrown by a manager to say "not on this hardware": dispatch falls through to the next manager. */
export class IncompatibleHardwareMethodError extends IpaError {
  constructor(details = 'This hardware manager cannot handle this method on this machine') {
    super('HardwareManager method is not compatible with hardware', details);
  }
}

/** A manager is misconfigured: dispatch stops instead of falling through. */
export class HardwareManagerConfigurationError extends IpaError {
  constructor(details: string) {
    super('Hardware manager configuration error', details);
  }
}

export class BlockDeviceEraseError extends IpaError {
  constructor(details: string, options?: ErrorOptions) {
    super('Error erasing block device', details, 500, options);
  }
}

export class BlockDeviceError extends IpaError {
  constructor(details: string, options?: ErrorOptions) {
    super('Block device caused unknown error', details, 500, options);
  }
}

export class SoftwareRAIDError extends IpaError {
  constructor(details: string, options?: ErrorOptions) {
    super('Software RAID caused unknown error', details, 500, options);
  }
}

export class DeviceNotFound extends IpaError {
  constructor(details: string) {
    super('Error finding the disk or partition device to deploy the image onto', details, 404);
  }
}

/** A destructive action was refused by the safety guard; the device is left untouched. */
export class ProtectedDeviceError extends IpaError {
  readonly device: string;
  readonly reason: string;
  constructor(device: string, reason: string) {
    super('Protected device located, cleaning aborted.', `Refusing to write to ${device}: ${reason}`);
    this.device = device;
    this.reason = reason;
  }
}

/** The conductor could not be reached or did not return a usable node in time (IPA's name). */
export class LookupNodeError extends IpaError {
  constructor(details: string, options?: ErrorOptions) {
    super('Error getting configuration from Ironic', details, 500, options);
  }
}

/** No address could be found to advertise in the callback URL. */
export class LookupAgentIPError extends IpaError {
  constructor(details: string, options?: ErrorOptions) {
    super('Error finding IP for Ironic Agent', details, 500, options);
  }
}

export class HeartbeatError extends IpaError {
  constructor(details: string, options?: ErrorOptions) {
    super('Error heartbeating to agent API', details, 500, options);
  }
}

/** 409 from the conductor (node locked): retried soon, logged as a warning. */
export class HeartbeatConflictError extends IpaError {
  constructor(details: string) {
    super('ConflictError heartbeating to agent API', details, 409);
  }
}

export class HeartbeatConnectionError extends IpaError {
  constructor(details: string, options?: ErrorOptions) {
    super(
      'Error attempting to heartbeat - Possible transitory network failure or blocking port may be present.',
      details,
      500,
      options,
    );
  }
}

export class SystemRebootError extends IpaError {
  constructor(details: string, options?: ErrorOptions) {
    super('Error rebooting system', details, 500, options);
  }
}

/**
 * Python's repr of a JSON-ish value, so messages read exactly like IPA's
 * (`{'generic_hardware_manager': '1.2'}`), which operators grep for.
 */
export function pythonRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'string') return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (Array.isArray(value)) return `[${value.map(pythonRepr).join(', ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).map(([k, v]) => `${pythonRepr(k)}: ${pythonRepr(v)}`);
    return `{${entries.join(', ')}}`;
  }
  return String(value);
}

// --- Image writing (IPA's errors.py names, summaries and detail formats) ---

export class ImageDownloadError extends IpaError {
  readonly imageId: string;
  constructor(imageId: string, reason: string, options?: ErrorOptions) {
    super('Error downloading image', `Download of image ${imageId} failed: ${reason}`, 500, options);
    this.imageId = imageId;
  }
}

/** The scratch space or device ran out of room while downloading (never retried). */
export class ImageDownloadOutofSpaceError extends ImageDownloadError {}

export class ImageChecksumError extends IpaError {
  readonly expected: string;
  readonly actual: string;
  constructor(imageId: string, location: string, expected: string, actual: string) {
    super(
      'Error verifying image checksum',
      `Image failed to verify against checksum. location: ${location}; image ID: ${imageId}; ` +
        `image checksum: ${expected}; verification checksum: ${actual}`,
    );
    this.expected = expected;
    this.actual = actual;
  }
}

export class ImageWriteError extends IpaError {
  constructor(device: string, exitCode: number | string, stdout: string, stderr: string, options?: ErrorOptions) {
    super(
      'Error writing image to device',
      `Writing image to device ${device} failed with exit code ${exitCode}. stdout: ${stdout}. stderr: ${stderr}`,
      500,
      options,
    );
  }
}

export class InvalidImage extends IpaError {
  constructor(details: string) {
    super('The image is invalid', details);
  }
}

export class ConfigDriveTooLargeError extends IpaError {
  constructor(location: string, sizeBytes: number) {
    super(
      'Configdrive is too large for intended partition',
      `Configdrive at ${location} has size ${sizeBytes}, which is larger than the intended partition.`,
    );
  }
}

export class ConfigDriveWriteError extends IpaError {
  constructor(device: string, exitCode: number | string, stdout: string, stderr: string) {
    super(
      'Error writing configdrive to device',
      `Writing configdrive to device ${device} failed with exit code ${exitCode}. stdout: ${stdout}. stderr: ${stderr}.`,
    );
  }
}
