import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { satisfiesCaret, tfjsCoreProblem, TFJS_CORE_RANGE } from '../src/compatibility';

describe('tfjs-core compatibility check', () => {
  it('supports exactly the peer range of package.json', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));
    expect(pkg.peerDependencies['@tensorflow/tfjs-core']).toBe(TFJS_CORE_RANGE);
    expect(pkg.peerDependencies['@tensorflow/tfjs-layers']).toBe(TFJS_CORE_RANGE);
  });

  it('reads caret ranges as npm does', () => {
    expect(satisfiesCaret('4.22.0', '^4.22.0')).toBe(true);
    expect(satisfiesCaret('4.23.1', '^4.22.0')).toBe(true);
    expect(satisfiesCaret('4.22.3', '^4.22.1')).toBe(true);
    expect(satisfiesCaret('4.22.0', '^4.22.1')).toBe(false);
    expect(satisfiesCaret('4.20.0', '^4.22.0')).toBe(false);
    expect(satisfiesCaret('5.0.0', '^4.22.0')).toBe(false);
    expect(satisfiesCaret('3.99.0', '^4.22.0')).toBe(false);
  });

  it('passes the tfjs-core this repository runs on', () => {
    expect(tf.env() instanceof tf.Environment).toBe(true);
    expect(tfjsCoreProblem({ version: tf.version_core, sameCopy: true })).toBeNull();
  });

  it('names an unsupported version, the range and the fix', () => {
    expect(tfjsCoreProblem({ version: '4.20.0', sameCopy: true })).toBe(
      'tfjs-trust: @tensorflow/tfjs-core 4.20.0 is not supported; tfjs-trust needs ^4.22.0. Fix: npm install @tensorflow/tfjs-core@^4.22.0 ' +
        '@tensorflow/tfjs-layers@^4.22.0 (or @tensorflow/tfjs@^4.22.0), then `npm ls @tensorflow/tfjs-core` must list a single version.',
    );
  });

  it('names both copies of tfjs-core and the fix', () => {
    const both = tfjsCoreProblem({ version: '4.22.0', sameCopy: false, appVersion: '4.20.0' });
    expect(both).toMatch(/^tfjs-trust: two copies of @tensorflow\/tfjs-core, 4\.20\.0 \(the app's\) and 4\.22\.0 \(tfjs-trust's\);/);
    expect(both).toMatch(/Fix: use one version in \^4\.22\.0 everywhere \(npm install @tensorflow\/tfjs@4\.22\.0,.*npm ls @tensorflow\/tfjs-core/);
    expect(both).not.toMatch(/\n/);
    expect(tfjsCoreProblem({ version: '4.22.0', sameCopy: false })).toMatch(/tfjs-core, another copy \(the app's\) and 4\.22\.0/);
  });
});
