"""Weight quantizers of the torch executor, numerically identical to science/quantization/*.ts."""
