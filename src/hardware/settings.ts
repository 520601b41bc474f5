/**
 * The agent settings hardware code may read, as a read-only view of the agent's
 * configuration (IPA's `CONF` options that its hardware code consults). The agent hands
 * in its whole config, which has these keys; hardware code never imports the agent.
 */
export interface HardwareSettings {
  /** Accept 32-hex-digit (MD5) image checksums. */
  readonly md5Enabled: boolean;
  /** Seconds without data before a download attempt is abandoned (also the connect timeout). */
  readonly imageDownloadConnectionTimeout: number;
  /** Extra attempts per URL (and whole-download retries after a bad checksum). */
  readonly imageDownloadConnectionRetries: number;
  /** Seconds between attempts. */
  readonly imageDownloadConnectionRetryInterval: number;
  /** Seconds a whole download may take; 0 = unlimited. */
  readonly imageDownloadMaxDuration: number;
  /** Skip TLS verification of image servers. */
  readonly insecure: boolean;
  /** CA bundle for image servers (and the conductor). */
  readonly cafile?: string | undefined;
  /** Client certificate and key presented to image servers. */
  readonly certfile?: string | undefined;
  readonly keyfile?: string | undefined;
  /** Report success when the bootloader cannot be installed (IPA's option of the same name). */
  readonly ignoreBootloaderFailure?: boolean | undefined;
  /** Allow grub-install for BIOS boot (IPA's `enable_bios_bootloader_install`, off by default). */
  readonly enableBiosBootloaderInstall?: boolean | undefined;
  /**
   * IPA's `permitted_image_formats`: the formats an inspected image may be in (an image Ironic
   * declares `raw` or `gpt` is not inspected). Unset: IPA's default, raw, gpt and qcow2.
   */
  readonly permittedImageFormats?: readonly string[] | undefined;
  /**
   * IPA's `disable_deep_image_inspection`: an image's format is taken from its content without
   * checking it against `disk_format` or the permitted formats.
   */
  readonly disableDeepImageInspection?: boolean | undefined;
  /**
   * IPA's `disk_wait_attempts` and `disk_wait_delay` (seconds): how often, and how far apart,
   * the root device is looked for before the step fails (a slow RAID controller or SAN LUN
   * shows its disk late). Unset: IPA's 10 and 3.
   */
  readonly diskWaitAttempts?: number | undefined;
  readonly diskWaitDelay?: number | undefined;
}

/** IPA's default `permitted_image_formats` (its config.py); Ironic's lookup usually replaces it. */
export const DEFAULT_PERMITTED_IMAGE_FORMATS: readonly string[] = Object.freeze(['raw', 'gpt', 'qcow2']);

/** IPA's defaults, used when a caller (a unit test, a tool) provides no settings. */
export const DEFAULT_HARDWARE_SETTINGS: HardwareSettings = Object.freeze({
  md5Enabled: true,
  imageDownloadConnectionTimeout: 60,
  imageDownloadConnectionRetries: 9,
  imageDownloadConnectionRetryInterval: 10,
  imageDownloadMaxDuration: 0,
  insecure: false,
  permittedImageFormats: DEFAULT_PERMITTED_IMAGE_FORMATS,
  disableDeepImageInspection: false,
  diskWaitAttempts: 10,
  diskWaitDelay: 3,
});

const SETTING_KEYS = [
  'md5Enabled',
  'imageDownloadConnectionTimeout',
  'imageDownloadConnectionRetries',
  'imageDownloadConnectionRetryInterval',
  'imageDownloadMaxDuration',
  'insecure',
  'cafile',
  'certfile',
  'keyfile',
  'ignoreBootloaderFailure',
  'enableBiosBootloaderInstall',
  'permittedImageFormats',
  'disableDeepImageInspection',
  'diskWaitAttempts',
  'diskWaitDelay',
] as const satisfies readonly (keyof HardwareSettings)[];

/**
 * The documented settings only, copied out of the agent's configuration: a step never sees the
 * rest of it (the agent token, the conductor URLs).
 */
export function hardwareSettingsOf(config: HardwareSettings): HardwareSettings {
  const picked: Record<string, unknown> = {};
  for (const key of SETTING_KEYS) {
    const value = config[key];
    // A list is a frozen copy: a step cannot change the agent's own list through its settings.
    if (value !== undefined) picked[key] = Array.isArray(value) ? Object.freeze([...(value as unknown[])]) : value;
  }
  return Object.freeze(picked) as unknown as HardwareSettings;
}
