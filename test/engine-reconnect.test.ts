// A crashed Temporal dev server brought back by `evoquant up` while an evolution runs, as a user
// would: the stack, the workers and the evolution are all started through the CLI, the workers find
// Temporal through the state dir only. The same worker processes must finish the evolution, with
// every candidate measured exactly once: on the same address (the state file's), and on a new one
// when the old port was taken while the server was down (the workers follow the state file).
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { Client, Connection } from '@temporalio/client';
import type { Kysely } from 'kysely';
import { createDb } from '../engine/db/connection.js';
import { isAlive, waitForExit } from '../engine/stack/processes.js';
import { stackStatus, stopStack } from '../engine/stack/stack.js';
import { readState, temporalStateFile, TemporalState } from '../engine/stack/state-file.js';
import type { Database } from '../schema/db.js';
import type { EvolutionStatus } from '../schema/workflow-contracts.js';
import { candidateFacts, duplicates } from './helpers/db-checks.js';
import { TEST_PROXY } from './helpers/evolutions.js';
import { waitForRunningActivity } from './helpers/temporal-history.js';
import type { WorkerProcess } from './helpers/worker-process.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';
import { evoquant, seedWorkflowBundle, startCliWorker, stateDirEnv } from './helpers/user-stack.js';

const external = ['DATABASE_URL', 'TEMPORAL_ADDRESS'].some((k) => (process.env[k] ?? '') !== '');
const serial = external ? test.serial.skip : test.serial;

interface Ctx {
  dir: string;
  env: NodeJS.ProcessEnv;
  workers: WorkerProcess[];
  db: Kysely<Database>;
}
let ctx: Ctx | undefined;

function context(): Ctx {
  if (ctx === undefined) throw new Error('the stack is not up (did test.before fail?)');
  return ctx;
}

function recordedTemporal(dir: string): TemporalState {
  const state = readState(temporalStateFile(dir), TemporalState);
  if (state === undefined) throw new Error(`no temporal.json in ${dir}`);
  return state;
}

test.before(async () => {
  if (external) return;
  const dir = makeTempDir('reconnect');
  const env = stateDirEnv(dir);
  ctx = { dir, env, workers: [], db: undefined as unknown as Kysely<Database> };
  await seedWorkflowBundle(dir);
  const up = await evoquant(['up', '--json'], env);
  if (up.code !== 0) throw new Error(`evoquant up failed (${up.code}):\n${up.stdout}${up.stderr}`);
  const url = stackStatus(dir).postgres?.url;
  if (url === undefined) throw new Error('evoquant up recorded no Postgres');
  ctx.db = createDb(url, { max: 2 });
  ctx.workers.push(
    ...(await Promise.all([
      startCliWorker(['control'], env, 'control'),
      // 1 GiB per slot: the proxy's working set, without claiming half the shared machine.
      startCliWorker(['gpu', '--device-class', 'cpu', '--device-memory-mb', '1024'], env, 'gpu'),
    ])),
  );
});

test.after.always(async () => {
  if (ctx === undefined) return;
  for (const w of ctx.workers) await w.stop(5_000);
  await ctx.db?.destroy().catch(() => undefined);
  await stopStack(ctx.dir);
  removeTempDir(ctx.dir);
});

/** Starts an evolution with `evoquant start` and returns its id. */
async function startEvolution(label: string): Promise<string> {
  const { dir, env } = context();
  const file = path.join(dir, `${label}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      name: `reconnect-${label}`,
      target: { model: 'qwen3-235b-a22b', hardware: 'a100-80gb', gpus: 2 },
      pool: 'cpu',
      proxy: TEST_PROXY,
      // Two generations: the second is proposed, compiled and measured after the crash.
      generations: 2,
      populationSize: 1,
      seedRecipes: ['w4a16-g128-rtn'],
      // Three evaluation batches: the crash lands while the GPU worker holds a running evaluation.
      evaluation: { tokens: 12288, calibrationTokens: 512, heartbeatSeconds: 2, maxAttempts: 5 },
    }),
  );
  const id = `reconnect-${label}-${process.pid}`;
  const started = await evoquant(['start', '--config', file, '--id', id], env);
  if (started.code !== 0) throw new Error(`evoquant start failed (${started.code}): ${started.stderr}`);
  return started.stdout.trim();
}

async function withClient<T>(address: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address });
  try {
    return await fn(new Client({ connection }));
  } finally {
    await connection.close();
  }
}

/** SIGKILLs the recorded Temporal server (no goodbye to anyone) and waits until it is gone. */
async function crashTemporal(dir: string): Promise<TemporalState> {
  const before = recordedTemporal(dir);
  process.kill(before.pid, 'SIGKILL');
  if (!(await waitForExit(before.pid, 10_000))) throw new Error(`Temporal pid ${before.pid} survived SIGKILL`);
  return before;
}

/** The evolution's result (from the address the state file names now), failing after `timeoutMs`. */
async function finished(id: string, timeoutMs: number): Promise<EvolutionStatus> {
  const { dir, env } = context();
  const status = await withClient(recordedTemporal(dir).address, async (client) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`evolution ${id} not finished within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([client.workflow.getHandle(id).result() as Promise<EvolutionStatus>, timeout]);
    } finally {
      clearTimeout(timer);
    }
  });
  // And as the user sees it.
  const shown = await evoquant(['status', id, '--json'], env, 60_000);
  if (shown.code !== 0) throw new Error(`evoquant status failed (${shown.code}): ${shown.stderr}`);
  if ((JSON.parse(shown.stdout) as { workflowStatus: string }).workflowStatus !== 'COMPLETED') throw new Error(`evoquant status: ${shown.stdout}`);
  return status;
}

async function assertMeasuredOnce(t: import('ava').ExecutionContext, id: string, status: EvolutionStatus): Promise<void> {
  const { db } = context();
  t.is(status.phase, 'completed');
  const facts = await candidateFacts(db, id);
  t.true(facts.length >= 2, `${facts.length} candidates over two generations`);
  t.deepEqual([...new Set(facts.map((c) => c.generation))], [0, 1], 'both generations ran');
  for (const c of facts) {
    t.is(c.results, c.status === 'evaluated' ? 1 : 0, `${c.id} (${c.status}) has ${c.results} results`);
    t.is(c.attempts.filter((a) => a.outcome === 'ok').length, c.status === 'evaluated' ? 1 : 0, `${c.id}: one counted attempt`);
  }
  t.is(status.counts.evaluated, facts.filter((c) => c.status === 'evaluated').length);
  t.true(status.counts.evaluated >= 1);
  t.is(await duplicates(db, 'candidate', ['evolution_id', 'recipe_hash']), 0);
  t.is(await duplicates(db, 'result', ['candidate_id']), 0);
  t.is(await duplicates(db, 'evaluation_attempt', ['candidate_id', 'attempt']), 0);
}

serial('a SIGKILLed Temporal comes back on its recorded address and the same workers finish the evolution', async (t) => {
  const { dir, env, workers } = context();
  const pids = workers.map((w) => w.pid);
  const id = await startEvolution('same-port');
  const before = recordedTemporal(dir);
  await withClient(before.address, (client) => waitForRunningActivity(client, `${id}/gen-0`, 'evaluate', { timeoutMs: 120_000 }));

  await crashTemporal(dir);
  t.is(stackStatus(dir).temporal, undefined, 'status sees no live server');
  const up = await evoquant(['up', '--json'], env);
  t.is(up.code, 0, up.stderr);
  const after = recordedTemporal(dir);
  t.not(after.pid, before.pid, 'a new server process');
  t.is(after.address, before.address, 'on the address the state file recorded');
  t.is((JSON.parse(up.stdout) as { temporal: { address: string } }).temporal.address, before.address);
  t.is(after.dbFile, before.dbFile);
  t.is(after.uiPort, before.uiPort);

  const status = await finished(id, 240_000);
  await assertMeasuredOnce(t, id, status);
  t.deepEqual(workers.map((w) => w.pid), pids);
  t.true(workers.every((w) => w.alive()), 'the workers were never restarted');
  t.false(workers.some((w) => /worker moved:/.test(w.output)), 'no move was needed');
});

serial('when the old port was taken meanwhile, up records a new address and the same workers follow it', async (t) => {
  const { dir, env, workers } = context();
  const pids = workers.map((w) => w.pid);
  const id = await startEvolution('new-port');
  const before = recordedTemporal(dir);
  await withClient(before.address, (client) => waitForRunningActivity(client, `${id}/gen-0`, 'evaluate', { timeoutMs: 120_000 }));

  await crashTemporal(dir);
  // Something else takes the port while the server is down: it accepts connections and says nothing.
  const squatter = net.createServer((socket) => socket.on('error', () => undefined));
  const sockets = new Set<net.Socket>();
  squatter.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  // The dead server's connections may hold the port for a few seconds (FIN-WAIT): bind once they let go.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      squatter.once('error', resolve);
      squatter.listen({ port: before.port, host: '127.0.0.1' }, () => {
        squatter.removeListener('error', resolve);
        resolve(undefined);
      });
    });
    if (err === undefined) break;
    if (err.code !== 'EADDRINUSE' || Date.now() > deadline) {
      const lines = execFileSync('ss', ['-tanp'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(`:${before.port} `));
      throw new Error(`cannot take port ${before.port}: ${err.message}\n${lines.join('\n')}`);
    }
    await sleep(250);
  }
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        squatter.close(() => resolve());
      }),
  );

  const up = await evoquant(['up', '--json'], env);
  t.is(up.code, 0, up.stderr);
  const after = recordedTemporal(dir);
  t.not(after.address, before.address, 'a new port, since the old one is taken');
  t.is((JSON.parse(up.stdout) as { temporal: { address: string } }).temporal.address, after.address, 'up reports the new address');
  t.is(after.dbFile, before.dbFile, 'same histories');

  const status = await finished(id, 300_000);
  await assertMeasuredOnce(t, id, status);
  t.deepEqual(workers.map((w) => w.pid), pids, 'the same worker processes');
  t.true(workers.every((w) => w.alive()));
  for (const w of workers) {
    t.regex(w.output, new RegExp(`worker moved: \\S+ follows Temporal from ${before.address} to ${after.address}`), `${w.name} followed the state file`);
  }
  t.true(isAlive(after.pid));
});
