/** `agent_client` as a namespace: `agentClient.getClient(task)`, `new agentClient.AgentClient(...)`. */
export { AgentClient, getCommandError } from './agent-client.js';
export { getClient } from './drivers/agent-base.js';
