/** Explanations: the Grad-CAM family behind one engine, Bayesian maps, overlays and map quality measures. */
export { cam, gradCam } from './cam';
export type { CamOptions } from './cam';
export { CAM_METHODS } from './method';
export type { CamMethod, CamMethodDefinition, CamContext, GradientCamContext, MapRule } from './method';
export { bayesianCam } from './bayesian';
export type { BayesianCam, BayesianCamOptions } from './bayesian';
export { findLayer, camCandidates } from './find_layer';
export { colormap, colormapHex, COLORMAPS, CLASS_COLOURS, classColour } from './colormap';
export type { ColormapName } from './colormap';
export { overlay } from './overlay';
export type { OverlayOptions } from './overlay';
export { deletionCurve, insertionCurve, BASELINES } from './faithfulness';
export type { Baseline, Curve, CurveOptions } from './faithfulness';
export { localization } from './localization';
export type { Localization, LocalizationOptions } from './localization';
