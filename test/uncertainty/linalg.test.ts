import { symmetricEigen } from '../../src/uncertainty/linalg';
import { Rng } from '../../src/random';

/** A random symmetric n × n matrix, row-major. */
function randomSymmetric(n: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = rng.normal();
  return a;
}

describe('symmetricEigen', () => {
  it('[[2, 1], [1, 2]]: eigenvalues 1 and 3, eigenvectors (1, ∓1)/√2', () => {
    const { values, vectors } = symmetricEigen(Float64Array.from([2, 1, 1, 2]), 2);
    expect(Array.from(values)).toEqual([expect.closeTo(1, 14), expect.closeTo(3, 14)]);
    expect(Math.abs(vectors[0] * vectors[2] + vectors[1] * vectors[3])).toBeLessThan(1e-14);
    expect(Math.abs(vectors[0])).toBeCloseTo(Math.SQRT1_2, 14);
    expect(vectors[0] * vectors[2]).toBeCloseTo(-0.5, 14);
  });

  it.each([1, 3, 17, 60])('n = %i: V diag(λ) Vᵀ = A, VᵀV = I, λ ascending, trace = Σλ', (n) => {
    const a = randomSymmetric(n, n);
    const { values, vectors } = symmetricEigen(a, n);
    let reconstruction = 0;
    let orthogonality = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let r = 0;
        let o = 0;
        for (let k = 0; k < n; k++) {
          r += vectors[i * n + k] * values[k] * vectors[j * n + k];
          o += vectors[k * n + i] * vectors[k * n + j];
        }
        reconstruction = Math.max(reconstruction, Math.abs(r - a[i * n + j]));
        orthogonality = Math.max(orthogonality, Math.abs(o - (i === j ? 1 : 0)));
      }
    }
    expect(reconstruction).toBeLessThan(1e-12);
    expect(orthogonality).toBeLessThan(1e-12);
    for (let k = 1; k < n; k++) expect(values[k]).toBeGreaterThanOrEqual(values[k - 1]);
    const trace = Array.from({ length: n }, (_, i) => a[i * n + i]).reduce((s, v) => s + v, 0);
    expect(values.reduce((s, v) => s + v, 0)).toBeCloseTo(trace, 10);
  });

  it('a diagonal matrix and a repeated eigenvalue', () => {
    expect(Array.from(symmetricEigen(Float64Array.from([3, 0, 0, 0, -1, 0, 0, 0, 3]), 3).values)).toEqual([-1, 3, 3]);
    expect(symmetricEigen(new Float64Array(0), 0).values.length).toBe(0);
  });
});
