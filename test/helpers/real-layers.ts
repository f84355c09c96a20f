// Activations of the proxy's real layers: calibration text the quantizers see, and held-out text
// they never saw, to measure output error honestly. Shared by the real-layer quantizer tests.
import { captureCalibration, type CalibrationSet } from '../../science/compression/calibration.js';
import { loadBrown } from '../../science/corpus/brown.js';
import { proxy } from './proxy.js';

export async function realLayerActivations(): Promise<{ calibration: CalibrationSet; heldOut: CalibrationSet }> {
  const brown = loadBrown();
  const calibration = await captureCalibration(proxy().model, brown.train, { tokens: 4096, minTokensPerExpert: 128 });
  const heldOut = await captureCalibration(proxy().model, brown.heldOut, { tokens: 4096, minTokensPerExpert: 0 });
  return { calibration, heldOut };
}
