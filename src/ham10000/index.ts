/** The HAM10000 dermoscopy pipeline (Node only): dataset, VGG16 transfer learning, training, reports. */
export {};
