// The workflow bundle's entry point: every workflow type a control worker serves.
export { evolutionWorkflow } from './evolution.js';
export { generationWorkflow } from './generation.js';
