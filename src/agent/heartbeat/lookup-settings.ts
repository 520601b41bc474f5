/**
 * IPA's `process_lookup_data` (agent.py) for the agent settings Ironic's lookup `config`
 * carries (ironic's ramdisk.py `config()`, from `[agent]` and `[conductor]`). They go into the
 * agent's configuration, which every command reads when it starts (`hardwareSettingsOf`), so
 * the image writer and the bootloader step see the conductor's word from the next command on.
 *
 * As IPA: `agent_md5_checksum_enable`, `disable_deep_image_inspection` and
 * `permitted_image_formats` replace the agent's own values whenever they are sent (false and
 * an empty list included); `enable_bios_bootloader_install` can only turn grub-install on: a
 * false from the conductor leaves an agent that enables it itself (`ipa-enable-bios-bootloader-install`)
 * as it is.
 *
 * Unlike IPA, a value of the wrong type is not applied: it is named in a warning and the
 * agent keeps its own setting. IPA hands it to oslo.config, which converts what it can and
 * otherwise raises out of the lookup, ending the agent; a node should not be stranded over
 * one setting (IPA itself ignores bad `agent_containers` values for that reason). Also unlike
 * IPA, every lookup applies them, the re-lookups (power cycle, `refreshNode`) included; IPA's
 * later lookups only refresh its cached node. The values are the same unless the operator
 * changed the conductor's configuration since, and then its newer word is the one to follow.
 */
import type { Logger } from '../../hardware/logger.js';
import type { AgentConfig } from '../config/schema.js';

type LookupSettings = Pick<
  AgentConfig,
  'md5Enabled' | 'disableDeepImageInspection' | 'permittedImageFormats' | 'enableBiosBootloaderInstall'
>;

const isStringList = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((item) => typeof item === 'string');

/** Applies the settings in a lookup's `config` to `config` (the agent's, changed in place). */
export function applyLookupSettings(config: LookupSettings, received: Readonly<Record<string, unknown>>, log: Logger): void {
  const apply = <K extends keyof LookupSettings>(
    wireKey: string,
    key: K,
    valid: (value: unknown) => value is LookupSettings[K],
    accept: (value: LookupSettings[K]) => boolean = () => true,
  ): void => {
    const value = received[wireKey];
    // IPA tests `is not None`: an absent or null key leaves the agent's setting alone.
    if (value === undefined || value === null) return;
    if (!valid(value)) {
      log.warn(
        { setting: wireKey, value, kept: config[key] },
        `ignoring ${wireKey} from the conductor's lookup: ${JSON.stringify(value)} is not a valid value; the agent keeps its own`,
      );
      return;
    }
    if (!accept(value) || JSON.stringify(config[key]) === JSON.stringify(value)) return;
    log.info({ setting: wireKey, value, was: config[key] }, `the conductor's lookup sets ${wireKey}`);
    config[key] = value;
  };
  const isBoolean = (value: unknown): value is boolean => typeof value === 'boolean';

  apply('agent_md5_checksum_enable', 'md5Enabled', isBoolean);
  apply('disable_deep_image_inspection', 'disableDeepImageInspection', isBoolean);
  apply('permitted_image_formats', 'permittedImageFormats', isStringList);
  // IPA: `if config.get('enable_bios_bootloader_install')`: only a true value is applied.
  apply('enable_bios_bootloader_install', 'enableBiosBootloaderInstall', isBoolean, (enable) => enable);
}
