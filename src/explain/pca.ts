import * as tf from '@tensorflow/tfjs-core';

/** Matrix squarings in the power method: the Gram matrix is raised to the power 2^SQUARINGS. */
const SQUARINGS = 12;
/** Plain power steps after the squarings, to polish the vector in the original matrix. */
const POWER_STEPS = 8;

/**
 * The projection of each image's positions onto the first principal component of its channels:
 * for values X [batch, height, width, channels], each image's X (positions × channels) is centred
 * per channel and projected on its first right singular vector v₁, giving X v₁ = σ₁ u₁ as a map
 * [batch, height, width]. This is pytorch-grad-cam's `get_2d_projection` (Muhammad & Yeasin 2020,
 * Eigen-CAM, eq. 4-5).
 *
 * A singular vector's sign is arbitrary (LAPACK picks one): the map is turned so that its largest
 * magnitude is positive, the sign correction of Chung & Ying 2025 (Seg-Eigen-CAM, eq. 13) that
 * pytorch-grad-cam ships as `get_2d_projection_with_sign_correction`.
 *
 * tfjs has no SVD, so u₁ or v₁ comes from the Gram matrix of the smaller side (XXᵀ or XᵀX) by the
 * power method with repeated squaring: G^(2^12) has the top eigenvector as its dominant column
 * unless the top two eigenvalues are within a factor 1 − 2⁻¹² of each other (then the component
 * is ill-defined for any method).
 */
export function firstComponentProjection(values: tf.Tensor4D): tf.Tensor3D {
  return tf.tidy(() => {
    const [batch, height, width, channels] = values.shape;
    const positions = height * width;
    const flat = tf.reshape(values, [batch, positions, channels]);
    const centred = tf.sub(flat, tf.mean(flat, 1, true)) as tf.Tensor3D;
    const overPositions = positions <= channels;
    const gram = (overPositions ? tf.matMul(centred, centred, false, true) : tf.matMul(centred, centred, true, false)) as tf.Tensor3D;
    const vector = topEigenvector(gram);
    // X v₁ directly; or, from u₁ of XXᵀ, σ₁ u₁ with σ₁² = u₁ᵀ XXᵀ u₁.
    const projection = overPositions
      ? tf.mul(vector, tf.sqrt(tf.relu(tf.matMul(vector, tf.matMul(gram, vector), true, false))))
      : tf.matMul(centred, vector);
    const maps = tf.reshape(projection, [batch, height, width]);
    const flip = tf.greater(tf.abs(tf.min(maps, [1, 2], true)), tf.abs(tf.max(maps, [1, 2], true)));
    return tf.where(flip, tf.neg(maps), maps) as tf.Tensor3D;
  });
}

/** The unit eigenvector [batch, n, 1] of the largest eigenvalue of each symmetric PSD matrix of [batch, n, n]. */
function topEigenvector(gram: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => {
    const n = gram.shape[1];
    const eye = tf.eye(n);
    const trace = (m: tf.Tensor3D) => tf.sum(tf.mul(m, eye), [1, 2], true);
    // Trace-normalised powers stay in [0, 1]: no overflow however many squarings.
    let power = tf.divNoNan(gram, trace(gram)) as tf.Tensor3D;
    for (let i = 0; i < SQUARINGS; i++) {
      const squared = tf.matMul(power, power) as tf.Tensor3D;
      power = tf.divNoNan(squared, trace(squared)) as tf.Tensor3D;
    }
    // G^p ≈ λ₁^p v vᵀ: its column with the largest diagonal entry is the best-conditioned multiple of v.
    const best = tf.expandDims(tf.argMax(tf.sum(tf.mul(power, eye), 2), 1), 1);
    const column = tf.cast(tf.equal(tf.range(0, n, 1, 'int32'), best), 'float32');
    let vector = unit(tf.matMul(power, tf.expandDims(column, 2) as tf.Tensor3D));
    for (let i = 0; i < POWER_STEPS; i++) vector = unit(tf.matMul(gram, vector) as tf.Tensor3D);
    return vector;
  });
}

function unit(vectors: tf.Tensor3D): tf.Tensor3D {
  return tf.divNoNan(vectors, tf.norm(vectors, 'euclidean', 1, true)) as tf.Tensor3D;
}
