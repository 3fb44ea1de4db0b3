import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bearer, parseAgentTokens, Tokens } from '../../nodes/dms3-server/auth';

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
});
