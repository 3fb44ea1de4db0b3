import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_MESSAGE_BYTES, parseAgentMessage, parseServerMessage, ProtocolError } from '../../lib/protocol';
import { health as testHealth } from '../support/agent';

const health = testHealth({ applied: 'start', reportInterval: 15 });

describe('protocol', () => {
  it('accepts each agent message type', () => {
    assert.equal(parseAgentMessage(JSON.stringify({ v: 1, type: 'hello', name: 'a', health })).type, 'hello');
    assert.equal(parseAgentMessage(JSON.stringify({ v: 1, type: 'health', health: { ...health, applied: null } })).type, 'health');
    assert.equal(parseAgentMessage(JSON.stringify({ v: 1, type: 'applied', seq: 3, state: 'stop', ok: false, motion: 'failed', error: 'x' })).type, 'applied');
    assert.equal(parseAgentMessage(JSON.stringify({ v: 1, type: 'notice', event: 'server-lost', at: new Date().toISOString(), text: 'hub lost; applied keep' })).type, 'notice');
    assert.equal(parseServerMessage(JSON.stringify({ v: 1, type: 'state', seq: 1, state: 'start', reason: 'nobody-home', since: new Date().toISOString() })).state, 'start');
  });

  it('refuses garbage, wrong versions, unknown fields and oversize frames with a reason', () => {
    const refuse = (raw: string, re: RegExp) => assert.throws(() => parseAgentMessage(raw), (e: Error) => e instanceof ProtocolError && re.test(e.message));
    refuse('{nope', /not JSON/);
    refuse(JSON.stringify({ v: 2, type: 'health', health }), /protocol version 2/);
    refuse(JSON.stringify({ v: 1, type: 'health', health: { ...health, motion: 'dancing' } }), /malformed/);
    refuse(JSON.stringify({ v: 1, type: 'applied', seq: 1, state: 'start', ok: true, motion: 'running', extra: 1 }), /malformed/);
    refuse(JSON.stringify({ v: 1, type: 'hello', name: 'x'.repeat(MAX_MESSAGE_BYTES), health }), /too large/);
    assert.throws(() => parseServerMessage(JSON.stringify({ v: 1, type: 'state', seq: 1, state: 'maybe', reason: 'x', since: '' })), /malformed/);
  });
});
