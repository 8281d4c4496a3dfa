/**
 * Convolution gradients built from kernels every backend runs fast (pad, strided slice, batched
 * matMul, multiply, sum), one filter tap at a time. A tap (r, c) of a convolution reads the input
 * at rows `oh·stride + r·dilation − padTop`: a strided slice of the padded input. Gradients of a
 * convolution are therefore sums over taps of products of that slice with `dy`, so each one costs
 * as many multiply-adds as the forward pass, and holds one slice of the input at a time (no
 * im2col matrix, which for a 224×224 layer would take a gigabyte).
 *
 * Shapes are NHWC throughout; `Conv2DInfo` comes from tfjs' own `computeConv2DInfo`, so strides,
 * 'same' / 'valid' / explicit padding, dilation and `dimRoundingMode` mean exactly what they
 * mean in tfjs.
 */
import * as tf from '@tensorflow/tfjs-core';

type Conv2DInfo = tf.backend_util.Conv2DInfo;

/** Rows or columns a tap spans in the padded input: `(out − 1)·stride + 1`. */
function tapSpan(outSize: number, stride: number): number {
  return (outSize - 1) * stride + 1;
}

/**
 * Pads `x` [batch, height, width, channels] so every tap's strided slice lies inside it: the
 * leading padding is tfjs' own; the trailing padding is whatever the last tap needs (it can
 * differ from tfjs' `padInfo.bottom` when the stride leaves input rows unread).
 */
function padForTaps(x: tf.Tensor4D, info: Conv2DInfo): tf.Tensor4D {
  const { top, left } = info.padInfo;
  const bottom = Math.max(0, tapSpan(info.outHeight, info.strideHeight) + (info.filterHeight - 1) * info.dilationHeight - info.inHeight - top);
  const right = Math.max(0, tapSpan(info.outWidth, info.strideWidth) + (info.filterWidth - 1) * info.dilationWidth - info.inWidth - left);
  return tf.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]]);
}

/**
 * The input values tap (row, col) multiplies, from `padded` laid out with the spatial axes at
 * `spatialAxes` (1, 2 for NHWC; 2, 3 for channels-first): the same layout, with the spatial
 * axes cut to [outHeight, outWidth].
 */
function tapSlice(padded: tf.Tensor4D, info: Conv2DInfo, row: number, col: number, spatialAxes: [number, number] = [1, 2]): tf.Tensor4D {
  const begin = [0, 0, 0, 0];
  const end = [...padded.shape];
  const strides = [1, 1, 1, 1];
  const [rowAxis, colAxis] = spatialAxes;
  begin[rowAxis] = row * info.dilationHeight;
  begin[colAxis] = col * info.dilationWidth;
  end[rowAxis] = begin[rowAxis] + tapSpan(info.outHeight, info.strideHeight);
  end[colAxis] = begin[colAxis] + tapSpan(info.outWidth, info.strideWidth);
  strides[rowAxis] = info.strideHeight;
  strides[colAxis] = info.strideWidth;
  return tf.stridedSlice(padded, begin, end, strides) as tf.Tensor4D;
}

/** Runs `perTap(row, col)` for every filter tap, row-major, and stacks the results on a new leading axis. */
function stackTaps(info: Conv2DInfo, perTap: (row: number, col: number) => tf.Tensor): tf.Tensor {
  const taps: tf.Tensor[] = [];
  for (let row = 0; row < info.filterHeight; row++) {
    for (let col = 0; col < info.filterWidth; col++) taps.push(perTap(row, col));
  }
  return tf.stack(taps);
}

/**
 * dL/dW of a convolution: `dW[r, c, i, o] = Σ_{b,oh,ow} x_pad[b, oh·s + r·d, ow·s + c·d, i] · dy[b, oh, ow, o]`
 * (the correlation of input and output gradient), one [in, pixels] × [pixels, out] matMul per
 * tap. The input is transposed channels-first once, so each tap is a plain matMul: WASM's
 * transposed-operand matMul is about 30× slower than its plain one.
 */
export function conv2dFilterGradient(x: tf.Tensor4D, dy: tf.Tensor4D, info: Conv2DInfo): tf.Tensor4D {
  return tf.tidy(() => {
    const pixels = info.batchSize * info.outHeight * info.outWidth;
    const channelsFirst = tf.transpose(padForTaps(x, info), [3, 0, 1, 2]);
    const dyRows = tf.reshape(dy, [pixels, info.outChannels]);
    const taps = stackTaps(info, (row, col) =>
      tf.matMul(tf.reshape(tapSlice(channelsFirst, info, row, col, [2, 3]), [info.inChannels, pixels]), dyRows),
    );
    return tf.reshape(taps, info.filterShape) as tf.Tensor4D;
  });
}

/**
 * dL/dW of a depthwise convolution with channel multiplier m: each input channel i only meets its
 * own outputs i·m … i·m + m − 1, so a tap is an elementwise product summed over the batch and
 * output pixels: `dW[r, c, i, k] = Σ x_pad[b, oh·s + r·d, ow·s + c·d, i] · dy[b, oh, ow, i·m + k]`.
 */
export function depthwiseFilterGradient(x: tf.Tensor4D, dy: tf.Tensor4D, info: Conv2DInfo): tf.Tensor4D {
  return tf.tidy(() => {
    const multiplier = info.outChannels / info.inChannels;
    const pixels = info.batchSize * info.outHeight * info.outWidth;
    const padded = padForTaps(x, info);
    const dyByChannel = tf.reshape(dy, [pixels, info.inChannels, multiplier]);
    const taps = stackTaps(info, (row, col) => {
      const xRows = tf.reshape(tapSlice(padded, info, row, col), [pixels, info.inChannels, 1]);
      return tf.sum(tf.mul(xRows, dyByChannel), 0);
    });
    return tf.reshape(taps, info.filterShape) as tf.Tensor4D;
  });
}

/**
 * Puts zeros between the pixels of `values` [batch, outHeight, outWidth, channels] so pixel
 * (oh, ow) lands at (oh·strideHeight, ow·strideWidth): the output gradient laid out on the grid of
 * input rows the taps read. Shape [batch, (outHeight − 1)·sh + 1, (outWidth − 1)·sw + 1, channels].
 */
function interleaveZeros(values: tf.Tensor4D, info: Conv2DInfo): tf.Tensor4D {
  const [batch, outHeight, outWidth, channels] = values.shape;
  const { strideHeight: sh, strideWidth: sw } = info;
  if (sh === 1 && sw === 1) return values;
  // [b, oh, 1, ow, 1, ch] padded to [b, oh, sh, ow, sw, ch], then flattened: each value at oh·sh, ow·sw.
  const spread = tf.reshape(
    tf.pad(tf.reshape(values, [batch, outHeight, 1, outWidth, 1, channels]), [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]),
    [batch, outHeight * sh, outWidth * sw, channels],
  ) as tf.Tensor4D;
  return tf.slice(spread, [0, 0, 0, 0], [batch, tapSpan(outHeight, sh), tapSpan(outWidth, sw), channels]);
}

/**
 * Pads (positive amounts) or crops (negative amounts) the two spatial axes of an NHWC tensor.
 * Cropping everything (a tap that reads only padding) leaves zeros of the resulting shape.
 */
function padOrCrop(x: tf.Tensor4D, [top, bottom]: [number, number], [left, right]: [number, number]): tf.Tensor4D {
  const [batch, height, width, channels] = x.shape;
  const keptHeight = height - Math.max(0, -top) - Math.max(0, -bottom);
  const keptWidth = width - Math.max(0, -left) - Math.max(0, -right);
  if (keptHeight <= 0 || keptWidth <= 0) return tf.zeros([batch, height + top + bottom, width + left + right, channels]);
  const kept = tf.slice(x, [0, Math.max(0, -top), Math.max(0, -left), 0], [batch, keptHeight, keptWidth, channels]);
  return tf.pad(kept, [[0, 0], [Math.max(0, top), Math.max(0, bottom)], [Math.max(0, left), Math.max(0, right)], [0, 0]]);
}

/**
 * dL/dx of a convolution, as a convolution (so WASM runs it through XNNPACK, like the forward
 * pass): the transposed convolution is the correlation of the zero-interleaved output gradient
 * with the filter rotated 180° and its in/out axes swapped (Dumoulin & Visin 2016, "A guide to
 * convolution arithmetic", §4). Output row p of that correlation is row p of the padded input;
 * the pads/crops below keep exactly rows [padTop, padTop + inHeight).
 */
export function conv2dInputGradient(dy: tf.Tensor4D, filter: tf.Tensor4D, info: Conv2DInfo): tf.Tensor4D {
  return tf.tidy(() => {
    const dense = interleaveZeros(dy, info);
    const reachHeight = (info.filterHeight - 1) * info.dilationHeight;
    const reachWidth = (info.filterWidth - 1) * info.dilationWidth;
    const { top, left } = info.padInfo;
    const framed = padOrCrop(
      dense,
      [reachHeight - top, info.inHeight + top - dense.shape[1]],
      [reachWidth - left, info.inWidth + left - dense.shape[2]],
    );
    const rotated = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
    return tf.conv2d(framed, rotated, 1, 'valid', 'NHWC', [info.dilationHeight, info.dilationWidth]);
  });
}

/**
 * dL/dx of a depthwise convolution: each tap sends `Σ_k dy[…, i·m + k] · W[r, c, i, k]` back to
 * the input pixels it read (the zero-interleaved gradient, shifted by the tap's offset); the sum
 * over taps, with the padding cut off, is the gradient.
 */
export function depthwiseInputGradient(dy: tf.Tensor4D, filter: tf.Tensor4D, info: Conv2DInfo): tf.Tensor4D {
  return tf.tidy(() => {
    const multiplier = info.outChannels / info.inChannels;
    const dense = interleaveZeros(dy, info);
    const [batch, denseHeight, denseWidth] = dense.shape;
    const byChannel = tf.reshape(dense, [batch, denseHeight, denseWidth, info.inChannels, multiplier]);
    const { top, left } = info.padInfo;
    const contributions: tf.Tensor4D[] = [];
    for (let row = 0; row < info.filterHeight; row++) {
      for (let col = 0; col < info.filterWidth; col++) {
        const weights = tf.reshape(tf.slice(filter, [row, col, 0, 0], [1, 1, info.inChannels, multiplier]), [info.inChannels, multiplier]);
        const perPixel = tf.sum(tf.mul(byChannel, weights), 4) as tf.Tensor4D;
        // In the padded frame this tap's values start at (row·dh, col·dw); keep input rows [top, top + inHeight).
        const startRow = row * info.dilationHeight - top;
        const startCol = col * info.dilationWidth - left;
        contributions.push(
          padOrCrop(perPixel, [startRow, info.inHeight - startRow - denseHeight], [startCol, info.inWidth - startCol - denseWidth]),
        );
      }
    }
    return tf.addN(contributions) as tf.Tensor4D;
  });
}
