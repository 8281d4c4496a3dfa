/** The HAM10000 data layer: metadata loading, lesion-grouped split, images, class balance, synthetic data. */
export * from './dataset';
export * from './split';
export * from './images';
export * from './preprocess';
export * from './class_balance';
export * from './synthetic';
