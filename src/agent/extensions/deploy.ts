/** `deploy.get_deploy_steps` / `deploy.execute_deploy_step`. */
import { createStepPhaseExtension } from './step-phase.js';

export const deployExtension = createStepPhaseExtension('deploy');
