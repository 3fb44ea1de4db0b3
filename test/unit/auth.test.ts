import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bearer, mintAgentToken, parseAgentTokens, Tokens } from '../../nodes/dms3-server/auth';

describe('hub tokens', () => {
  it('parses name=token lines, skipping blanks and comments', () => {
    const t = parseAgentTokens('# lost Pis: delete their line\nkitchen = abc=def \r\n\n  garage=xyz\n');
    assert.deepEqual([...t], [
      ['kitchen', 'abc=def'],
      ['garage', 'xyz'],
    ]);
    assert.equal(parseAgentTokens(undefined).size, 0);
  });

  it('names the bad line, never its token', () => {
    assert.throws(() => parseAgentTokens('kitchen=ok\nsecret-without-name'), (err: Error) => {
      assert.match(err.message, /^agentTokens "line 2": expected name=token/);
      assert.ok(!err.message.includes('secret'));
      return true;
    });
    assert.throws(() => parseAgentTokens('=tok'), /line 1/);
    assert.throws(() => parseAgentTokens('name='), /line 1/);
    assert.throws(() => parseAgentTokens('two words=tok'), /line 1/);
    assert.throws(() => parseAgentTokens('a=1\na=2'), /line 2.*agent "a" has a token already/);
  });

  it('reads a Bearer header', () => {
    assert.equal(bearer('Bearer abc'), 'abc');
    assert.equal(bearer('bearer   abc  '), 'abc');
    assert.equal(bearer('Basic abc'), null);
    assert.equal(bearer('Bearer'), null);
    assert.equal(bearer('Bearer a b'), null);
    assert.equal(bearer(undefined), null);
  });

  it('tells the hub token, an agent token and a wrong one apart', () => {
    const t = new Tokens('hub-secret', new Map([['kitchen', 'kitchen-secret']]));
    assert.deepEqual(t.check('hub-secret'), { kind: 'hub' });
    assert.deepEqual(t.check('kitchen-secret'), { kind: 'agent', name: 'kitchen' });
    assert.equal(t.check('hub-secre'), null);
    assert.equal(t.check('hub-secret '), null);
    assert.equal(t.check(''), null);
    assert.equal(t.check(null), null);
    assert.equal(t.empty, false);
    assert.equal(new Tokens('', new Map()).empty, true);
    const agentsOnly = new Tokens('', new Map([['a', 'x']]));
    assert.equal(agentsOnly.empty, false);
    assert.equal(agentsOnly.check(''), null); // an empty hub token never matches
  });

  it('takes a stored digest in place of a token (what the editor mints)', () => {
    const { token, stored } = mintAgentToken();
    assert.match(token, /^[\w-]{32}$/);
    assert.match(stored, /^sha256:[0-9a-f]{64}$/);
    assert.ok(!stored.includes(token));
    assert.notEqual(mintAgentToken().token, token);
    const t = new Tokens('hub-secret', parseAgentTokens(`pi-1=${stored}\npi-2=plain-token`));
    assert.deepEqual(t.check(token), { kind: 'agent', name: 'pi-1' });
    assert.equal(t.check(stored), null, 'the digest itself is no token');
    assert.deepEqual(t.check('plain-token'), { kind: 'agent', name: 'pi-2' });
  });

  it('lets an agent token act only as its own name, and the hub token never as a name with its own token', () => {
    const t = new Tokens('hub-secret', new Map([['kitchen', 'kitchen-secret']]));
    const agent = t.check('kitchen-secret');
    const hub = t.check('hub-secret');
    assert.equal(t.refuseAs(agent, 'kitchen'), null);
    assert.match(t.refuseAs(agent, 'garage')!, /belongs to agent "kitchen", not "garage"/);
    assert.equal(t.refuseAs(hub, 'garage'), null, 'names without a token of their own');
    assert.match(t.refuseAs(hub, 'kitchen')!, /"kitchen" has its own token/);
    for (const why of [t.refuseAs(agent, 'garage'), t.refuseAs(hub, 'kitchen')]) assert.ok(!why!.includes('secret'), 'no token in the reason');
    assert.equal(t.hasOwn('kitchen'), true);
    assert.equal(t.hasOwn('garage'), false);
  });
});
