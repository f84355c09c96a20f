// Public surface of the physical feasibility compiler.
export { compile, compileTarget, type CompileInput, type CompileTargetOptions } from './compile.js';
export { formatReport, formatBytes, formatCount } from './format.js';
export { enumerateModules, moduleParams, moduleSite, normParameters, type LinearModule, type EnumerateOptions, type Projection, type ParallelStyle } from './modules.js';
export { roleOfTensor, type TensorRole } from './tensor-roles.js';
export { countParameters, type ParameterCount } from './parameters.js';
export { matrixBytes, breakdownTotal, outlierCount, outlierBytes, type ByteBreakdown } from './weight-bytes.js';
export { kvBytesPerToken, kvBytesPerGpu, kvHeadsPerGpu, type KvBits } from './kv-cache.js';
export { runtimeOverhead } from './overhead.js';
export { checkKernel, rotationBlockSize, type KernelVerdict } from './kernel-check.js';
export { shardOf, pipelineLayout, parallelismViolations, type Shard, type PipelineStage } from './sharding.js';
export { decodeRoofline, type StageTraffic } from './roofline.js';
export { createSpecResolver, type SpecResolver } from './specs.js';
