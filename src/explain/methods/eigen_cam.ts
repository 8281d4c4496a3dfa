import type { CamMethodDefinition } from '../method';
import { firstComponentProjection } from '../pca';

/**
 * Eigen-CAM: no gradients and no class. The map is the layer's activations projected on their first
 * principal component, the direction along which the positions differ most: what the layer sees as
 * the main object, whatever the class. The same map for every `classIdx`; cheap (one forward pass)
 * and robust to noisy gradients, but it cannot tell two classes in one image apart.
 *
 * Reference: Muhammad & Yeasin 2020, "Eigen-CAM: Class Activation Map using Principal Components".
 */
export const eigenCamMethod: CamMethodDefinition = {
  usesGradients: false,
  // Muhammad & Yeasin 2020, eq. 5: L = A v₁, v₁ the first right singular vector of the centred A.
  map: ({ activations }) => firstComponentProjection(activations),
};
