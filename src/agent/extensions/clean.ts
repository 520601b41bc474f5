/** `clean.get_clean_steps` / `clean.execute_clean_step`. */
import { createStepPhaseExtension } from './step-phase.js';

export const cleanExtension = createStepPhaseExtension('clean');
