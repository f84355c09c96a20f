// What one benchmark run measured, and the machine it ran on (the figures mean little without it).

export interface GemmResult {
  /** How the README names the shape. */
  label: string;
  m: number;
  k: number;
  n: number;
  evoquantGflops: number;
  numpyGflops: number | null;
}

export interface BenchResult {
  machine: {
    cores: number;
    cpu: string;
    /** 1-minute load averages when the benchmark started and ended (other work sharing the CPUs). */
    loadStart: number;
    loadEnd: number;
  };
  /** The peer for the GEMM ratios; null when no python3 with numpy was found. */
  numpy: { version: string; blas: string } | null;
  reps: { gemm: number; evaluation: number; quantize: number };
  gemm: GemmResult[];
  /** One small GEMM call end to end: the fixed cost of crossing into onnxruntime. */
  smallCall: { m: number; k: number; n: number; microseconds: number };
  /** A plain JavaScript triple loop on the first GEMM shape. */
  jsLoopGflops: number;
  evaluation: { tokens: number; tokensPerSecond: number };
  quantize: Array<{ recipe: string; seconds: number; note?: string }>;
}
