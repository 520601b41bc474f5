/**
 * The Ironic options the step machinery reads, with Ironic 2023.1's defaults. Names are
 * Ironic's (`[agent]command_timeout` → `agent.commandTimeout`) so operators can map them.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ConductorConf {
  host: string;
  conductor: {
    automatedClean: boolean;
    /** `"interface.step": priority` (`[conductor]clean_step_priority_override`). */
    cleanStepPriorityOverride: Record<string, number>;
    cleanCallbackTimeout: number;
    deployCallbackTimeout: number;
    checkProvisionStateInterval: number;
    nodeLockedRetryAttempts: number;
    nodeLockedRetryInterval: number;
  };
  agent: {
    commandTimeout: number;
    maxCommandAttempts: number;
    commandWaitAttempts: number;
    commandWaitInterval: number;
    postDeployGetPowerStateRetries: number;
    postDeployGetPowerStateRetryInterval: number;
    agentApiVersion: string;
    streamRawImages: boolean;
    manageAgentBoot: boolean;
    /** Where agents' auto-TLS certificates are kept (`[agent]certificates_path`). */
    certificatesPath: string;
  };
  deploy: {
    fastTrack: boolean;
    fastTrackTimeout: number;
    defaultBootMode: 'uefi' | 'bios';
    eraseDevicesPriority: number | null;
    eraseDevicesMetadataPriority: number | null;
    powerOffAfterDeployFailure: boolean;
    /** What `agent_add_clean_params` gives the agent's disk erase (Ironic's [deploy] names). */
    shredRandomOverwriteIterations: number;
    shredFinalOverwriteWithZeros: boolean;
    continueIfDiskSecureEraseFails: boolean;
    enableAtaSecureErase: boolean;
    enableNvmeSecureErase: boolean;
    diskErasureConcurrency: number;
    eraseSkipReadOnly: boolean;
  };
  api: {
    ramdiskHeartbeatTimeout: number;
    /** The URL agents and the CLI use to reach this conductor (`[service_catalog]endpoint_override`). */
    publicUrl: string;
  };
}

export type ConductorConfInput = { host?: string } & { [K in Exclude<keyof ConductorConf, 'host'>]?: Partial<ConductorConf[K]> };

export function makeConf(input: ConductorConfInput = {}): ConductorConf {
  return {
    host: input.host ?? 'ramdisk-agent-conductor',
    conductor: {
      automatedClean: true,
      cleanStepPriorityOverride: {},
      cleanCallbackTimeout: 1800,
      deployCallbackTimeout: 1800,
      checkProvisionStateInterval: 60,
      nodeLockedRetryAttempts: 3,
      nodeLockedRetryInterval: 1,
      ...input.conductor,
    },
    agent: {
      commandTimeout: 60,
      maxCommandAttempts: 3,
      commandWaitAttempts: 100,
      commandWaitInterval: 6,
      postDeployGetPowerStateRetries: 6,
      postDeployGetPowerStateRetryInterval: 5,
      agentApiVersion: 'v1',
      streamRawImages: true,
      manageAgentBoot: true,
      certificatesPath: join(tmpdir(), 'ramdisk-agent-conductor', 'certificates'),
      ...input.agent,
    },
    deploy: {
      fastTrack: false,
      fastTrackTimeout: 300,
      defaultBootMode: 'uefi',
      eraseDevicesPriority: null,
      eraseDevicesMetadataPriority: null,
      powerOffAfterDeployFailure: true,
      shredRandomOverwriteIterations: 1,
      shredFinalOverwriteWithZeros: true,
      continueIfDiskSecureEraseFails: false,
      enableAtaSecureErase: true,
      enableNvmeSecureErase: true,
      diskErasureConcurrency: 1,
      eraseSkipReadOnly: false,
      ...input.deploy,
    },
    api: {
      ramdiskHeartbeatTimeout: 300,
      publicUrl: 'http://127.0.0.1:6385',
      ...input.api,
    },
  };
}
