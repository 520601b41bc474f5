/**
 * The `clean`, `deploy` and `service` extensions share one shape (reference §4.1):
 * `get_<phase>_steps` lists the managers' steps, `execute_<phase>_step` runs one.
 */
import { z } from 'zod';
import {
  CleaningError,
  DeploymentError,
  ServicingError,
  describeError,
  isIpaError,
  type IpaError,
} from '../../hardware/errors.js';
import { hardwareSettingsOf } from '../../hardware/settings.js';
import { run } from '../../hardware/exec.js';
import type { StepListingByManager } from '../../hardware/registry.js';
import type { StepPhase } from '../../hardware/step.js';
import type { IronicNode, IronicPort, StepContext } from '../../hardware/step-context.js';
import { defineCommand, defineExtension, type CommandContext, type Extension } from '../command.js';
import type { AgentServices } from '../services.js';

const nodeSchema = z.looseObject({
  uuid: z.string().optional(),
  properties: z.record(z.string(), z.unknown()).optional(),
  instance_info: z.record(z.string(), z.unknown()).optional(),
  driver_info: z.record(z.string(), z.unknown()).optional(),
  driver_internal_info: z.record(z.string(), z.unknown()).optional(),
});

const portsSchema = z.array(z.looseObject({ address: z.string().optional() })).default([]);

const stepSchema = z.looseObject({
  step: z.string().min(1),
  args: z.record(z.string(), z.unknown()).nullish(),
  interface: z.string().optional(),
  priority: z.number().optional(),
});

const PHASE_ERRORS: Record<StepPhase, new (details: string) => IpaError> = {
  clean: CleaningError,
  deploy: DeploymentError,
  service: ServicingError,
};

/** The context a step runs with, built from the command's. */
export function createStepContext(ctx: CommandContext, phase: StepPhase, node: IronicNode, ports: IronicPort[]): StepContext {
  const { services, log, progress, signal } = ctx;
  return {
    node,
    ports,
    phase,
    log,
    progress,
    signal,
    guard: services.guard,
    settings: hardwareSettingsOf(services.config),
    exec: (file, args, options) => run(file, args, { logger: log, signal, ...options }),
    dispatch: (method, ...args) => services.hardware.dispatchToManagers(method, ...args),
  };
}

/**
 * IPA's `[DEFAULT]inject_files_priority` (`ipa-inject-files-priority`): the priority of
 * `inject_files` is the agent's setting in the deploy and the service listings (IPA's
 * GenericHardwareManager puts CONF.inject_files_priority in both get_deploy_steps and
 * get_service_steps; it has no such clean step), whichever manager provides the step. IPA
 * applies it only to its generic manager's entry, which is where the step lives there.
 */
function withConfiguredPriorities(
  phase: StepPhase,
  listing: StepListingByManager,
  config: AgentServices['config'],
): StepListingByManager {
  if (phase === 'clean' || config.injectFilesPriority === 0) return listing;
  return Object.fromEntries(
    Object.entries(listing).map(([manager, steps]) => [
      manager,
      steps.map((step) => (step.step === 'inject_files' ? { ...step, priority: config.injectFilesPriority } : step)),
    ]),
  );
}

export function createStepPhaseExtension(phase: StepPhase): Extension {
  const versionKey = `${phase}_version`;
  const PhaseError = PHASE_ERRORS[phase];

  const getSteps = defineCommand({
    name: `get_${phase}_steps`,
    mode: 'sync',
    params: z.looseObject({ node: nodeSchema, ports: portsSchema }),
    async run(params, { services }) {
      services.node.update(params.node);
      const { steps, problems } = await services.hardware.listSteps(phase, params.node, params.ports);
      return {
        [`${phase}_steps`]: withConfiguredPriorities(phase, steps, services.config),
        hardware_manager_version: services.hardware.versions(),
        // Ours, beside IPA's keys (Ironic ignores unknown ones): managers that were found but
        // are not active or whose getSteps() failed for this node, so an operator reading the
        // command result learns why a step is missing.
        ...(problems.length > 0 ? { hardware_manager_problems: problems } : {}),
      };
    },
  });

  const executeStep = defineCommand({
    name: `execute_${phase}_step`,
    mode: 'async',
    params: z.looseObject({ step: stepSchema, node: nodeSchema, ports: portsSchema }),
    async run(params, ctx) {
      const { step, node, ports, [versionKey]: usedVersions, ...extraKwargs } = params;
      ctx.services.node.update(node);
      ctx.services.hardware.checkVersions(usedVersions);
      // IPA: extra top-level params become keyword args; the step's own args win.
      const args = { ...extraKwargs, ...(step.args ?? {}) };
      const stepCtx = createStepContext(ctx, phase, node, ports);
      ctx.log.info({ step: step.step, args: Object.keys(args) }, `running ${phase} step`);
      let result: unknown;
      try {
        result = await ctx.services.hardware.dispatchStep(step.step, stepCtx, args);
      } catch (error) {
        if (isIpaError(error)) throw error;
        throw new PhaseError(`Unexpected exception performing ${phase} step ${step.step}. ${describeError(error)}`);
      }
      return { [`${phase}_result`]: result ?? null, [`${phase}_step`]: step };
    },
  });

  return defineExtension(phase, [getSteps, executeStep]);
}
