/**
 * Protection rule patterns (`*` wildcards, whole name, case-insensitive): the matcher gives the answers the old
 * backtracking regex gave, and a hostile pattern costs linear time instead of seconds of a blocked event loop.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { patternMatches } from '../../src/domain/access/protection.js';

/** The matcher Wharf used before: a regex built from the pattern. Exponential on `*a*a*…*b`; only for small inputs here. */
function regexOracle(pattern: string, name: string): boolean {
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`, 'is').test(name);
}

const CASES: Array<[pattern: string, name: string, matches: boolean]> = [
  ['@acme/core', '@acme/core', true],
  ['@acme/core', '@ACME/Core', true],
  ['@acme/core', '@acme/core2', false],
  ['@acme/core', 'x@acme/core', false],
  ['@acme/*', '@acme/', true],
  ['@acme/*', '@acme/anything.at-all', true],
  ['@acme/*', '@acmex/a', false],
  ['*', '', true],
  ['*', 'anything', true],
  ['**', 'x', true],
  ['', '', true],
  ['', 'x', false],
  ['*-internal', 'core-internal', true],
  ['*-internal', 'core-internal-x', false],
  ['a*b*b', 'abb', true],
  ['a*b*b', 'ab', false],
  ['a*a', 'a', false],
  ['a*a', 'aa', true],
  ['*ab*ab*', 'xabyab', true],
  ['*ab*ab*', 'xaby', false],
  ['*aba*', 'ababa', true],
  ['*aba*aba*', 'ababa', false],
  ['*aba*aba*', 'abaaba', true],
  ['@acme/core-*-v*', '@acme/core-web-v2', true],
  ['@acme/core-*-v*', '@acme/core-web', false],
  // Regex metacharacters are literals.
  ['a.b', 'axb', false],
  ['a.b', 'a.b', true],
  ['(x)+?[y]{2}|^$\\', '(x)+?[y]{2}|^$\\', true],
  ['a+', 'aa', false],
  // `*` spans newlines (the old regex used the `s` flag) and any character.
  ['a*b', 'a\nb', true],
  // Case folding as a non-Unicode case-insensitive RegExp does it.
  ['STRASSE', 'straße', false],
  ['straße', 'STRASSE', false],
  ['ÄÖÜ', 'äöü', true],
  ['k', '\u212a', false],
  ['i', '\u0131', false],
  ['é*', 'É-chart', true],
];

describe('protection rule patterns', () => {
  it('match exactly as the old regex did (table)', () => {
    for (const [pattern, name, expected] of CASES) {
      assert.equal(patternMatches(pattern, name), expected, `${JSON.stringify(pattern)} vs ${JSON.stringify(name)}`);
      assert.equal(regexOracle(pattern, name), expected, `oracle: ${JSON.stringify(pattern)} vs ${JSON.stringify(name)}`);
    }
  });

  it('agree with the old regex on thousands of random small patterns and names', () => {
    // A fixed linear congruential generator: the same cases every run.
    let seed = 12345;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const alphabet = ['a', 'b', 'A', '*', '-', '.', 'ß', 'é'];
    const make = (max: number, withStar: boolean) => {
      let s = '';
      const len = next(max + 1);
      for (let i = 0; i < len; i++) {
        const c = alphabet[next(alphabet.length)]!;
        s += !withStar && c === '*' ? 'b' : c;
      }
      return s;
    };
    for (let i = 0; i < 20_000; i++) {
      const pattern = make(7, true);
      const name = make(9, false);
      assert.equal(patternMatches(pattern, name), regexOracle(pattern, name), `${JSON.stringify(pattern)} vs ${JSON.stringify(name)}`);
    }
  });

  it('costs linear time on the patterns that made the regex backtrack for seconds', () => {
    const long = 'a'.repeat(10_000);
    const hostile: Array<[string, string, boolean]> = [
      ['*a*a*a*a*a*a*b', long, false],
      ['*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b', long, false],
      [`${'*a'.repeat(120)}*b`, long, false],
      [`${'*a'.repeat(120)}*`, long, true],
      [`${'*'.repeat(254)}b`, long, false],
      [`*${'a'.repeat(253)}b`, long, false],
      [`${'a*'.repeat(127)}`, `${long}b`, true],
      ['*a*a*a*a*a*a*b', `${long}b`, true],
    ];
    // Timing is only a sanity bound against a catastrophic regression; the speed targets live in bench/.
    const started = performance.now();
    for (const [pattern, name, expected] of hostile) {
      assert.equal(patternMatches(pattern, name), expected, `${pattern.slice(0, 30)}… vs ${name.length} characters`);
    }
    const took = performance.now() - started;
    assert.ok(took < 200, `hostile patterns took ${took.toFixed(1)} ms`);
  });
});
