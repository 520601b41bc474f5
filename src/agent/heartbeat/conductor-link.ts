/**
 * Everything the agent does towards the conductor when not standalone: the lookup (node,
 * heartbeat timeout, one-time token, agent settings), the heartbeats, and the recovery IPA never needs
 * because its machine really reboots: when the conductor wipes the token (it power-cycled
 * the node, reference ironic-conductor §7.4) the next heartbeat is refused with 400
 * "Invalid or missing agent token", so the agent looks up again, takes the new token and
 * forgets its commands, as a freshly booted agent would.
 */
import { EventEmitter } from 'node:events';
import { HeartbeatError, LookupNodeError } from '../errors.js';
import type { Logger } from '../../hardware/logger.js';
import type { CommandRunner } from '../command-runner.js';
import type { AgentConfig } from '../config/schema.js';
import type { TokenGate } from '../http/token-gate.js';
import type { NodeCache } from '../node-cache.js';
import { Heartbeater, type HeartbeatOutcome } from './heartbeater.js';
import { HeartbeatRejectedError, IronicApiClient } from './ironic-api-client.js';
import { decideToken, lookupNode, type LookupConfig, type LookupResult, type TokenDecision } from './lookup.js';
import { applyLookupSettings } from './lookup-settings.js';

export interface ConductorLinkOptions {
  config: AgentConfig;
  log: Logger;
  tokenGate: TokenGate;
  runner: CommandRunner;
  nodeCache: NodeCache;
  agentVersion: string;
  /** MAC addresses to look up with (the inventory's interfaces). */
  collectMacs: () => Promise<string[]>;
  /**
   * After the conductor rejects our token, look the node up again for a new one. Only where
   * power actions are simulated (an agent outside a ramdisk, whose machine a conductor's
   * power cycle does not restart). In a ramdisk a rejected token means the conductor wiped it
   * to power this machine off or reboot it; a lookup in the window before the power goes (a
   * soft reboot's shutdown, a BMC that acts late) would take the token meant for the agent of
   * the next boot, which would then get "******" and never serve. IPA never looks up again.
   */
  lookUpAgainOnTokenRejection: boolean;
}

export interface ConductorLinkEvents {
  lookup: [LookupResult, TokenDecision];
  heartbeat: [HeartbeatOutcome];
  'token-rejected': [HeartbeatRejectedError];
}

export class ConductorLink extends EventEmitter<ConductorLinkEvents> {
  readonly client: IronicApiClient;
  readonly #options: ConductorLinkOptions;
  readonly #log: Logger;
  readonly #stop = new AbortController();
  #token: string | undefined;
  #node: LookupResult['node'] | undefined;
  #lookupConfig: LookupConfig | undefined;
  #heartbeater: Heartbeater | undefined;
  #callbackUrl: string | undefined;
  #lookupLocalAddress: string | undefined;
  #verifyCa: string | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: ConductorLinkOptions) {
    super();
    this.#options = options;
    this.#log = options.log.child({ component: 'conductor-link' });
    this.#token = options.config.agentToken;
    const { config } = options;
    this.client = new IronicApiClient({
      apiUrls: config.apiUrls,
      log: this.#log,
      requestTimeoutMs: config.httpRequestTimeout * 1000,
      pinnedVersion: config.ironicApiVersion,
      globalRequestId: config.globalRequestId,
      insecure: config.insecure,
      cafile: config.cafile,
      certfile: config.certfile,
      keyfile: config.keyfile,
      tlsMinVersion: config.tlsMinVersion,
      ciphers: config.tlsCipherSuites,
    });
  }

  get nodeUuid(): string | undefined {
    return this.#node?.uuid;
  }

  /** The `config` dict of the last lookup (heartbeat timeout, skip-BMC flag, ...). */
  get lookupConfig(): LookupConfig | undefined {
    return this.#lookupConfig;
  }

  get agentToken(): string | undefined {
    return this.#token;
  }

  /** Our address on the connection the last successful lookup was answered over. */
  get lookupLocalAddress(): string | undefined {
    return this.#lookupLocalAddress;
  }

  /** Aborted once the link is stopped: what the agent does for it (e.g. finding its address) ends then. */
  get signal(): AbortSignal {
    return this.#stop.signal;
  }

  get callbackUrl(): string | undefined {
    return this.#callbackUrl;
  }

  /** Look the node up (retrying until `lookup_timeout`) and apply what came back. */
  async lookup(nodeUuid?: string): Promise<TokenDecision> {
    const { config } = this.#options;
    const result = await lookupNode({
      client: this.client,
      log: this.#log,
      addresses: this.#options.collectMacs,
      // The UUID inspection got back (IPA passes it to its first lookup).
      nodeUuid,
      timeout: config.lookupTimeout,
      interval: config.lookupInterval,
      signal: this.#stop.signal,
    });
    return this.#apply(result);
  }

  /**
   * IPA's `update_cached_node`: look the node up again for fresher data (e.g. root device
   * hints set after the agent booted). The token is not re-issued ("******"); ours stays.
   */
  async refreshNode(): Promise<LookupResult['node']> {
    await this.lookup();
    return this.#node!;
  }

  #apply(result: LookupResult): TokenDecision {
    this.#node = result.node;
    this.#lookupConfig = result.config;
    this.#lookupLocalAddress = result.localAddress;
    this.#options.nodeCache.update(result.node);
    applyLookupSettings(this.#options.config, result.config, this.#log);
    const decision = decideToken(result.config.agent_token, this.#token !== undefined);
    switch (decision.kind) {
      case 'accept':
        this.#token = decision.token;
        this.#options.tokenGate.setToken(decision.token);
        this.#log.info({ node: result.node.uuid }, 'received a new agent token from the conductor');
        break;
      case 'keep-existing':
        this.#log.info({ node: result.node.uuid }, 'the conductor already issued the agent token; using the one we hold');
        break;
      case 'fatal':
        this.#log.error({ node: result.node.uuid }, `cannot serve: ${decision.reason}`);
        break;
      case 'ignore':
        this.#log.warn({ node: result.node.uuid }, decision.reason);
        break;
    }
    this.emit('lookup', result, decision);
    return decision;
  }

  /** Start heartbeating (the first one at once). */
  startHeartbeats(callbackUrl: string, verifyCa?: string): void {
    if (!this.#node) throw new LookupNodeError('heartbeats need a successful lookup first');
    this.#callbackUrl = callbackUrl;
    this.#verifyCa = verifyCa;
    this.#heartbeater ??= new Heartbeater({
      send: () => this.#sendHeartbeat(),
      heartbeatTimeout: () => this.#lookupConfig?.heartbeat_timeout ?? 300,
      log: this.#log,
    });
    this.#heartbeater.on('heartbeat', (outcome) => this.emit('heartbeat', outcome));
    this.#options.runner.on('async-command-finished', this.#onCommandFinished);
    this.#heartbeater.start();
    this.#log.info({ callbackUrl, tls: verifyCa !== undefined }, 'heartbeating to the conductor');
  }

  readonly #onCommandFinished = () => this.#heartbeater?.force();

  /** Stop heartbeating and any lookup in progress. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#stop.abort(new Error('the agent stopped talking to the conductor'));
      this.#options.runner.off('async-command-finished', this.#onCommandFinished);
      await this.#heartbeater?.stop();
      await this.client.close();
    })();
    return this.#stopping;
  }

  async #heartbeatOnce(): Promise<void> {
    await this.client.heartbeat(
      this.#node!.uuid,
      {
        callbackUrl: this.#callbackUrl!,
        agentToken: this.#token ?? null,
        agentVersion: this.#options.agentVersion,
        agentVerifyCa: this.#verifyCa,
      },
      this.#stop.signal,
    );
  }

  async #sendHeartbeat(): Promise<void> {
    try {
      await this.#heartbeatOnce();
    } catch (error) {
      if (!(error instanceof HeartbeatRejectedError) || !error.isTokenRejection) throw error;
      this.emit('token-rejected', error);
      if (!this.#options.lookUpAgainOnTokenRejection) {
        // Heartbeats go on (and fail) until the power goes, as IPA's do.
        throw new HeartbeatError(
          'the conductor rejected our agent token: it wiped it to power this machine off or reboot it; ' +
            'not looking up again, which would take the token of the next boot',
          { cause: error },
        );
      }
      this.#log.warn(
        { faultstring: error.faultstring },
        'the conductor rejected our agent token (it power-cycled this node): looking up again',
      );
      const decision = await this.lookup();
      if (decision.kind !== 'accept') {
        throw new HeartbeatError(`the conductor rejected our token and the new lookup gave none (${decision.kind})`);
      }
      // A power-cycled machine runs nothing: the running command is aborted and its tools
      // have exited before the conductor hears from us (and can send the next command).
      await this.#options.runner.reset('the conductor restarted this node (new agent token)');
      this.#log.warn('new agent token installed; previous commands ended and their results forgotten, as after a reboot');
      await this.#heartbeatOnce();
    }
  }
}
