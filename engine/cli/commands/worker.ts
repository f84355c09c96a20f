// evoquant worker control|gpu: the long-running workers of a stack (embedded or production).
// Each prints one `worker ready: …` line once it polls, and shuts down cleanly on SIGINT/SIGTERM.
// Workers of the embedded stack follow its state file when Temporal comes back on a new address.
import { Option, type Command } from 'commander';
import { positiveInt } from '../args.js';
import { UsageError } from '../errors.js';

interface CommonFlags {
  identity?: string;
  json?: boolean;
}

interface GpuFlags extends CommonFlags {
  deviceClass?: string;
  slots?: number;
  deviceMemoryMb?: number;
  chaosTransientRate?: number;
  chaosSeed?: number;
  artifactsDir?: string;
  /** Hidden: this process is the child for one GPU of a fanned-out machine. */
  slot?: number;
  executor?: 'torch' | 'reference';
}

function executorKind(value: string): 'torch' | 'reference' {
  if (value === 'torch' || value === 'reference') return value;
  throw new UsageError(`--executor: expected torch or reference, got "${value}"`);
}

function nonNegativeInt(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag}: expected a non-negative integer, got "${value}"`);
    return n;
  };
}

function rate(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new UsageError(`${flag}: expected a number in [0, 1], got "${value}"`);
    return n;
  };
}

function say(json: boolean | undefined, event: Record<string, unknown>, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(event)}\n` : `${text}\n`);
}

type Launched = import('../../../workers/launch.js').LaunchedWorker;
type Endpoints = import('../../client/connection.js').Endpoints;

async function serve(launched: Launched, json: boolean | undefined, endpoints: Endpoints, relaunch: (e: Endpoints) => Promise<Launched>): Promise<void> {
  const { followStackOf, readyLine, serveUntilStopped } = await import('../../../workers/launch.js');
  await serveUntilStopped(
    launched,
    {
      onReady: (info) => say(json, { event: 'ready', ...info }, readyLine(info)),
      onStopping: (signal) => process.stderr.write(`evoquant: ${signal}: shutting down ${launched.ready.taskQueue} worker\n`),
      onMoved: (info, from) =>
        say(json, { event: 'moved', from, ...info }, `worker moved: ${info.taskQueue} follows Temporal from ${from} to ${info.temporalAddress} (state file)`),
      onMoveFailed: (address, err) =>
        process.stderr.write(`evoquant: cannot rejoin Temporal at ${address} yet (${err instanceof Error ? err.message.split('\n')[0] : String(err)}); retrying\n`),
      onWarning: (message) => process.stderr.write(`evoquant: ${message}\n`),
    },
    followStackOf(endpoints, relaunch),
  );
  say(json, { event: 'stopped', taskQueue: launched.ready.taskQueue, identity: launched.ready.identity }, `worker stopped: ${launched.ready.taskQueue}`);
}

async function runControl(flags: CommonFlags): Promise<void> {
  const { resolveEndpoints, requireDatabaseUrl } = await import('../../client/connection.js');
  const endpoints = resolveEndpoints();
  requireDatabaseUrl(endpoints);
  const { launchControlWorker } = await import('../../../workers/launch.js');
  const launched = await launchControlWorker(endpoints, { identity: flags.identity });
  // The database was migrated at boot; a rebuilt worker only needs to reconnect.
  await serve(launched, flags.json, endpoints, (moved) => launchControlWorker(moved, { identity: launched.ready.identity, migrate: false }));
}

async function runGpu(flags: GpuFlags): Promise<void> {
  const { knownPools } = await import('../../client/config-checks.js');
  // Every flag is checked before anything is probed, connected or spawned.
  if (flags.deviceClass !== undefined && !knownPools().includes(flags.deviceClass)) {
    throw new UsageError(`--device-class: unknown class "${flags.deviceClass}" (known: ${knownPools().join(', ')})`);
  }
  const { defaultExecutor, findTorchEnv } = await import('../../../workers/torch-env.js');
  const torchEnv = findTorchEnv();
  if (flags.executor === 'torch' && !('python' in torchEnv)) throw new UsageError(`--executor torch: ${torchEnv.missing}`);
  const { resolveEndpoints } = await import('../../client/connection.js');
  const endpoints = resolveEndpoints();
  const { detectDeviceClass, gpuClassOf, probeGpus, visibleGpus } = await import('../../../workers/device-probe.js');

  let deviceClass = flags.deviceClass;
  let gpus = deviceClass === 'cpu' ? [] : visibleGpus(probeGpus());
  if (deviceClass === undefined) {
    const detected = detectDeviceClass();
    deviceClass = detected.deviceClass;
    gpus = visibleGpus(detected.gpus);
  } else if (deviceClass !== 'cpu') {
    // Only a machine of the class may serve its queue: a naming mistake must not route A100 work elsewhere.
    const found = [...new Set(gpus.map((g) => gpuClassOf(g.name, g.memoryMiB) ?? g.name))];
    if (found.length !== 1 || found[0] !== deviceClass) {
      throw new UsageError(`--device-class: ${deviceClass} does not match this machine's GPUs (${found.length ? found.join(', ') : 'nvidia-smi finds none'}); use --device-class cpu for the reference executor`);
    }
  }
  const chaos = flags.chaosTransientRate === undefined ? null : { transientRate: flags.chaosTransientRate, seed: flags.chaosSeed ?? 1 };
  // torch where there are GPUs and the Python env is built; `--device-class cpu --executor torch` runs torch on the CPU.
  const executor = flags.executor ?? defaultExecutor(gpus.length > 0, torchEnv);

  if (flags.slot === undefined && gpus.length > 1) {
    const { superviseGpuWorkers } = await import('../../../workers/gpu-fanout.js');
    const forward = [
      ...(flags.slots !== undefined ? ['--slots', String(flags.slots)] : []),
      ...(chaos ? ['--chaos-transient-rate', String(chaos.transientRate), '--chaos-seed', String(chaos.seed)] : []),
      ...(flags.artifactsDir !== undefined ? ['--artifacts-dir', flags.artifactsDir] : []),
      ...(flags.json ? ['--json'] : []),
      '--executor',
      executor,
    ];
    const code = await superviseGpuWorkers({
      deviceClass,
      gpus,
      forwardArgs: forward,
      deviceMemoryMb: flags.deviceMemoryMb,
      onLine: (gpu, line, stream) => (stream === 'stdout' ? process.stdout : process.stderr).write(`[gpu ${gpu}] ${line}\n`),
      onAllReady: () =>
        say(
          flags.json,
          { event: 'ready', role: 'gpu-supervisor', taskQueue: `gpu-${deviceClass}`, processes: gpus.length },
          `worker ready: gpu-${deviceClass} (${gpus.length} processes, one per GPU) on ${endpoints.temporalAddress}`,
        ),
    });
    process.exitCode = code;
    return;
  }

  const gpu = flags.slot === undefined ? gpus[0] : gpus.find((g) => g.index === flags.slot);
  const memoryMb = flags.deviceMemoryMb ?? gpu?.memoryMiB;
  const { launchGpuWorker } = await import('../../../workers/launch.js');
  const { hostname } = await import('node:os');
  const options = {
    deviceClass,
    slots: flags.slots ?? 1,
    deviceMemoryBytes: memoryMb === undefined ? undefined : memoryMb * 2 ** 20,
    artifactsDir: flags.artifactsDir,
    chaos,
    identity: flags.identity ?? (flags.slot === undefined ? undefined : `gpu-${deviceClass}@${hostname()}/${process.pid}/gpu${flags.slot}`),
    executor,
    // A GPU's torch processes are capped only below the GPU's own memory (torch takes a fraction ≤ 1 of it).
    torchMemoryCapBytes:
      deviceClass === 'cpu' || flags.deviceMemoryMb === undefined ? undefined : gpu !== undefined && flags.deviceMemoryMb < gpu.memoryMiB ? flags.deviceMemoryMb * 2 ** 20 : null,
  };
  const launched = await launchGpuWorker(endpoints, options);
  await serve(launched, flags.json, endpoints, (moved) => launchGpuWorker(moved, { ...options, identity: launched.ready.identity }));
}

export function registerWorker(program: Command): void {
  const worker = program.command('worker').description('run a long-lived worker against the running stack (embedded, or TEMPORAL_ADDRESS / DATABASE_URL)');

  worker
    .command('control')
    .description('serve the workflows and the propose/compile/record activities (needs Temporal and Postgres; migrates Postgres at boot)')
    .option('--identity <name>', 'worker identity shown in histories')
    .option('--json', 'print JSON lines')
    .action((flags: CommonFlags) => runControl(flags));

  worker
    .command('gpu')
    .description('serve quantize/evaluate on gpu-<class>: the class from nvidia-smi, or --device-class (cpu: the CPU; with --executor torch, torch on the CPU)')
    .option('--device-class <class>', 'cpu or a hardware profile id (a100-80gb, h100-80gb, …); default: detected by nvidia-smi')
    .option('--slots <n>', 'concurrent evaluations in this process (default 1)', positiveInt('--slots'))
    .option('--device-memory-mb <mb>', 'memory of one slot in MiB (default the GPU\'s; cpu: half the RAM)', positiveInt('--device-memory-mb'))
    .option('--chaos-transient-rate <r>', 'fail this share of attempts with a retryable fault (testing)', rate('--chaos-transient-rate'))
    .option('--chaos-seed <s>', 'seed of the chaos draw (default 1)', nonNegativeInt('--chaos-seed'))
    .option('--executor <kind>', 'torch (checkpoint requests on python/evoquant_torch, proxy ones on the reference) or reference; default torch where nvidia-smi finds GPUs and the Python env is built', executorKind)
    .option('--artifacts-dir <dir>', 'where quantized artifacts go (default <state dir>/artifacts; share it between GPU workers)')
    .option('--identity <name>', 'worker identity shown in histories')
    .option('--json', 'print JSON lines')
    .addOption(new Option('--slot <index>', 'serve only this GPU (set by the per-GPU fan-out)').argParser(nonNegativeInt('--slot')).hideHelp())
    .action((flags: GpuFlags) => runGpu(flags));
}
