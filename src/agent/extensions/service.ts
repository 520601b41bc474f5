/** `service.get_service_steps` / `service.execute_service_step`. */
import { createStepPhaseExtension } from './step-phase.js';

export const serviceExtension = createStepPhaseExtension('service');
