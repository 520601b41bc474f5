import pkg from '../package.json' with { type: 'json' };

/** Reported as `version` on `/v1/status` and as `agent_version` in heartbeats. */
export const AGENT_VERSION: string = pkg.version;
