/**
 * `manager_utils.notify_conductor_resume_clean/deploy`: a periodic or hook that finished an
 * out-of-band step asks the conductor to continue; the lock is released first.
 */
import type { Task } from './task.js';

export function notifyConductorResumeClean(task: Task): void {
  task.conductor.resume(task.node.uuid, 'clean');
}

export function notifyConductorResumeDeploy(task: Task): void {
  task.conductor.resume(task.node.uuid, 'deploy');
}
