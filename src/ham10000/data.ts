export * from './dataset';
export * from './split';
export * from './images';
export * from './preprocess';
export * from './class_balance';
