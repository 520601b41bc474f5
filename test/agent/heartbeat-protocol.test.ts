/**
 * The protocol decisions behind lookup and heartbeat, case by case: which token to keep,
 * which lookup answers are usable (including Ironic's legacy shape), the backoff bounds,
 * and how Ironic's error bodies are read.
 */
import { describe, expect, it } from 'vitest';
import { HeartbeatRejectedError, ironicErrorMessage } from '../../src/agent/heartbeat/ironic-api-client.js';
import { backoffSeconds, decideToken, parseLookupResponse } from '../../src/agent/heartbeat/lookup.js';

const TOKEN = 'a'.repeat(43);

describe('agent token from the lookup', () => {
  it('takes a real token, keeps the held one on "******", and refuses to serve with none', () => {
    expect(decideToken(TOKEN, false)).toEqual({ kind: 'accept', token: TOKEN });
    expect(decideToken(TOKEN, true)).toEqual({ kind: 'accept', token: TOKEN });
    expect(decideToken('******', true)).toEqual({ kind: 'keep-existing' });
    expect(decideToken('******', false).kind).toBe('fatal');
    expect(decideToken('short', false).kind).toBe('ignore');
    expect(decideToken(null, true)).toEqual({ kind: 'keep-existing' });
    expect(decideToken(undefined, false).kind).toBe('ignore');
  });
});

describe('lookup answers', () => {
  it('accepts node + config, and the legacy top-level heartbeat_timeout', () => {
    const modern = parseLookupResponse(
      JSON.stringify({ node: { uuid: 'u1', properties: {} }, config: { heartbeat_timeout: 300, agent_token: TOKEN } }),
    );
    expect(modern).toMatchObject({ node: { uuid: 'u1' }, config: { heartbeat_timeout: 300, agent_token: TOKEN } });
    const legacy = parseLookupResponse(JSON.stringify({ node: { uuid: 'u2' }, heartbeat_timeout: 120 }));
    expect(legacy).toEqual({ node: { uuid: 'u2' }, config: { heartbeat_timeout: 120 } });
  });

  it('rejects undecodable JSON, a node without uuid, and a missing heartbeat timeout', () => {
    expect(parseLookupResponse('<html>')).toMatch(/^Error decoding response/);
    expect(parseLookupResponse(JSON.stringify({ node: {}, config: { heartbeat_timeout: 1 } }))).toMatch(/invalid node data/);
    expect(parseLookupResponse(JSON.stringify({ node: { uuid: 'u' } }))).toMatch(/invalid heartbeat/);
  });

  it('backs off as tenacity wait_random_exponential(min, max=60)', () => {
    expect(backoffSeconds(1, 1, () => 0.5)).toBe(1);
    expect(backoffSeconds(3, 1, () => 1)).toBe(4);
    expect(backoffSeconds(3, 1, () => 0)).toBe(1);
    expect(backoffSeconds(20, 1, () => 1)).toBe(60);
    expect(backoffSeconds(1, 0.05, () => 1)).toBe(1);
  });
});

describe('Ironic error bodies', () => {
  it('reads the faultstring out of error_message, and falls back to the text', () => {
    const ironic = JSON.stringify({
      error_message: JSON.stringify({
        faultcode: 'Client',
        faultstring: 'Invalid or missing agent token received.',
        debuginfo: null,
      }),
    });
    expect(ironicErrorMessage(ironic)).toBe('Invalid or missing agent token received.');
    expect(ironicErrorMessage(JSON.stringify({ title: 'Not Found' }))).toBe('Not Found');
    expect(ironicErrorMessage('upstream timed out\n')).toBe('upstream timed out');
  });

  it('treats only a 400 about the agent token as a token rejection', () => {
    expect(new HeartbeatRejectedError(400, 'Invalid or missing agent token received.').isTokenRejection).toBe(true);
    expect(new HeartbeatRejectedError(400, 'Agent token is required for heartbeat processing.').isTokenRejection).toBe(true);
    expect(new HeartbeatRejectedError(400, 'Detected change in ramdisk provided "callback_url"').isTokenRejection).toBe(false);
    expect(new HeartbeatRejectedError(404, 'Node could not be found.').isTokenRejection).toBe(false);
    expect(new HeartbeatRejectedError(400, 'x').message).toBe('Error heartbeating to agent API: Error 400: x');
  });
});
