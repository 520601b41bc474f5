/**
 * IPA's `inject_files` as a shipped manager: a deploy and a service step (priority from the
 * agent's `ipa-inject-files-priority`, default 0, applied when the agent lists deploy and
 * service steps), writing files into the partitions of the disk the image went to.
 */
import { z } from 'zod';
import { defineHardwareManager, defineStep, HardwareSupport } from '../../src/hardware/index.js';
import { injectFiles } from './inject.js';

const args = z.object({
  files: z
    .unknown()
    .optional()
    .describe(
      "Files to inject, a list of file structures with keys: 'path' (path to the file), 'partition' (partition specifier), " +
        "'content' (base64 encoded string), 'mode' (new file mode) and 'dirmode' (mode for the leaf directory, if created). " +
        'Merged with the values from node.properties[inject_files].',
    ),
  verify_ca: z.unknown().optional().describe('Whether to verify TLS certificates. Global agent options are used by default.'),
});

const injectFilesStep = defineStep({
  name: 'inject_files',
  description: 'Write, replace or delete files in the partitions of the deployed image.',
  deploy: { priority: 0, interface: 'deploy' },
  service: { priority: 0, interface: 'deploy' },
  args,
  run: (ctx, { files, verify_ca }) => injectFiles(ctx, files, verify_ca),
});

export default defineHardwareManager({
  name: 'inject_files_hardware_manager',
  version: '1.0',
  className: 'InjectFilesHardwareManager',
  evaluateHardwareSupport: () => HardwareSupport.GENERIC,
  steps: [injectFilesStep],
});
