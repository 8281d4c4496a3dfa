import type { CamMethod, CamMethodDefinition } from '../method';
import { ablationCamMethod } from './ablation_cam';
import { eigenCamMethod } from './eigen_cam';
import { eigenGradCamMethod } from './eigen_grad_cam';
import { gradCamMethod } from './grad_cam';
import { gradCamPlusPlusMethod } from './grad_cam_plus_plus';
import { hiResCamMethod } from './hires_cam';
import { layerCamMethod } from './layer_cam';
import { scoreCamMethod } from './score_cam';
import { xGradCamMethod } from './xgrad_cam';

/** Every CAM method the engine runs, by its public name. */
export const CAM_METHOD_DEFINITIONS: Record<CamMethod, CamMethodDefinition> = {
  gradcam: gradCamMethod,
  'gradcam++': gradCamPlusPlusMethod,
  hirescam: hiResCamMethod,
  xgradcam: xGradCamMethod,
  layercam: layerCamMethod,
  scorecam: scoreCamMethod,
  eigencam: eigenCamMethod,
  eigengradcam: eigenGradCamMethod,
  ablationcam: ablationCamMethod,
};
