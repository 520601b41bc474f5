/** Resume a parked clean or deploy (`continue_node_clean` / `continue_node_deploy`). */
import { continueNodeClean } from './cleaning.js';
import { continueNodeDeploy } from './deployments.js';
import type { Task } from './task.js';

export async function continueNodeSteps(task: Task, type: 'clean' | 'deploy'): Promise<void> {
  if (type === 'clean') {
    task.resumeCleaning();
    await continueNodeClean(task);
  } else {
    task.processEvent('resume');
    await continueNodeDeploy(task);
  }
}
