export type { Logger } from '../shared/logger.js';
export { silentLogger } from '../shared/logger.js';
