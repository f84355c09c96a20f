// The engine's CLI as a person runs it (child processes against a real Temporal and Postgres):
// bad input exits 2 with one line and starts nothing; a good config starts an evolution. Plus the
// pure event-history → rows fold of engine/history.ts on a hand-built history.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { activityRows, summarizeWorkflowHistory, type History, type PendingActivity } from '../engine/client/history.js';
import { PROXY_DIR } from './helpers/proxy.js';
import { useStack } from './helpers/stack.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';

const stack = useStack(test);
const BIN = fileURLToPath(new URL('../bin/evoquant.mjs', import.meta.url));

let home = '';
let databaseUrl = '';
test.before(() => {
  home = makeTempDir('cli-engine');
});
test.after.always(() => {
  if (home) removeTempDir(home);
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Async, so several CLI processes can run at once. */
function cli(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The CLI's environment: this file's services, a private state dir, nothing inherited that points elsewhere. */
async function engineEnv(): Promise<NodeJS.ProcessEnv> {
  if (databaseUrl === '') databaseUrl = (await stack().postgres.freshDatabase()).url;
  const { TEMPORAL_NAMESPACE: _ns, ...rest } = process.env;
  return { ...rest, EVOQUANT_HOME: home, TEMPORAL_ADDRESS: stack().temporal.address, DATABASE_URL: databaseUrl };
}

async function workflowCount(client: Client): Promise<number> {
  let n = 0;
  for await (const _ of client.workflow.list()) n++;
  return n;
}

const lines = (text: string): string[] => text.split('\n').filter((l) => l.trim() !== '');

/** A config directory; the proxy is the committed model (start checks that it loads). */
function configDir(): { dir: string; proxy: string } {
  const dir = path.join(home, 'configs');
  mkdirSync(dir, { recursive: true });
  return { dir, proxy: PROXY_DIR };
}

function goodConfig(proxy: string): Record<string, unknown> {
  return {
    name: 'cli-test',
    target: { model: 'qwen3-235b-a22b', hardware: 'a100-80gb', gpus: 2 },
    pool: 'cpu',
    proxy,
    generations: 1,
    populationSize: 2,
    seedRecipes: ['w4a16-g128-rtn', 'bf16'],
  };
}

test.serial('bad configs exit 2 with one line naming the field, and start no workflow', async (t) => {
  const env = await engineEnv();
  const client = await stack().temporal.client();
  const before = await workflowCount(client);
  const { dir, proxy } = configDir();
  const good = goodConfig(proxy);
  const target = good.target as Record<string, unknown>;
  const cases: Array<{ name: string; file: string; content: string; expect: RegExp }> = [
    { name: 'malformed YAML', file: 'malformed.yaml', content: 'name: x\ntarget: [\n  gpus: 2\n', expect: /^evoquant: --config: .*malformed\.yaml is not valid YAML/ },
    { name: 'unknown field', file: 'unknown-field.json', content: JSON.stringify({ ...good, mutationRate: 0.3 }), expect: /^evoquant: config\.mutationRate: unknown field$/ },
    { name: 'gpus 0', file: 'gpus0.json', content: JSON.stringify({ ...good, target: { ...target, gpus: 0 } }), expect: /^evoquant: config\.target\.gpus: / },
    { name: 'unknown hardware', file: 'hardware.json', content: JSON.stringify({ ...good, target: { ...target, hardware: 'tpu-v5' } }), expect: /^evoquant: config\.target\.hardware: .*tpu-v5/ },
    { name: 'unknown model', file: 'model.json', content: JSON.stringify({ ...good, target: { ...target, model: 'llama-9000' } }), expect: /^evoquant: config\.target\.model: .*llama-9000/ },
    { name: 'unknown seed recipe', file: 'seed.json', content: JSON.stringify({ ...good, seedRecipes: ['bf16', 'w5a16-magic'] }), expect: /^evoquant: config\.seedRecipes\[1\]: unknown builtin recipe "w5a16-magic"/ },
    { name: 'tp does not divide gpus', file: 'tp.json', content: JSON.stringify({ ...good, target: { ...target, gpus: 4, tensorParallel: 3 } }), expect: /^evoquant: config\.target\.tensorParallel: 3 must divide gpus 4/ },
    { name: 'missing proxy', file: 'proxy.json', content: JSON.stringify({ ...good, proxy: path.join(home, 'no-such-proxy') }), expect: /^evoquant: config\.proxy: .*no-such-proxy does not exist/ },
    { name: 'pool nobody serves', file: 'pool.json', content: JSON.stringify({ ...good, pool: 'tpu' }), expect: /^evoquant: config\.pool: no worker serves pool "tpu"/ },
    { name: 'YAML, wrong type', file: 'type.yaml', content: 'name: x\ntarget: {model: qwen3-235b-a22b, hardware: a100-80gb, gpus: two}\n', expect: /^evoquant: config\.target\.gpus: / },
  ];
  for (const c of cases) writeFileSync(path.join(dir, c.file), c.content);

  const runs = [
    ...(await Promise.all(cases.slice(0, 5).map((c) => cli(['start', '--config', path.join(dir, c.file)], env)))),
    ...(await Promise.all(cases.slice(5).map((c) => cli(['start', '--config', path.join(dir, c.file)], env)))),
  ];
  cases.forEach((c, i) => {
    const r = runs[i]!;
    t.is(r.code, 2, `${c.name}: exit code (stderr: ${r.stderr})`);
    t.is(lines(r.stderr).length, 1, `${c.name}: one line on stderr, got ${JSON.stringify(r.stderr)}`);
    t.regex(r.stderr.trim(), c.expect, c.name);
    t.is(r.stdout, '', `${c.name}: nothing on stdout`);
  });
  const missing = await cli(['start', '--config', path.join(dir, 'absent.yaml')], env);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /^evoquant: --config: .*absent\.yaml does not exist\n$/);

  t.is(await workflowCount(client), before, 'no workflow was started');
});

test.serial('unknown evolution ids exit 2 for status, pause, history and retry', async (t) => {
  const env = await engineEnv();
  const runs = await Promise.all([
    cli(['status', 'no-such-evolution'], env),
    cli(['pause', 'no-such-evolution'], env),
    cli(['history', 'no-such-evolution', '--generation', '0'], env),
    cli(['retry', 'no-such-evolution', '--candidate', 'cand_x'], env),
  ]);
  for (const r of runs) {
    t.is(r.code, 2, r.stderr);
    t.is(r.stderr, 'evoquant: evolution no-such-evolution not found\n');
  }
});

test.serial('worker flags are checked before anything connects', async (t) => {
  const env = await engineEnv();
  const [bogus, zeroSlots] = await Promise.all([
    cli(['worker', 'gpu', '--device-class', 'bogus'], env),
    cli(['worker', 'gpu', '--device-class', 'cpu', '--slots', '0'], env),
  ]);
  t.is(bogus.code, 2);
  t.regex(bogus.stderr, /^evoquant: --device-class: unknown class "bogus" \(known: cpu, .*a100-80gb/);
  t.is(lines(bogus.stderr).length, 1);
  t.is(zeroSlots.code, 2);
  t.regex(zeroSlots.stderr, /--slots: expected a positive integer/);
});

test.serial('without a stack or TEMPORAL_ADDRESS the commands say how to start one', async (t) => {
  const { TEMPORAL_ADDRESS: _a, DATABASE_URL: _d, ...rest } = process.env;
  const empty = makeTempDir('cli-engine-empty');
  t.teardown(() => removeTempDir(empty));
  const r = await cli(['list'], { ...rest, EVOQUANT_HOME: empty });
  t.is(r.code, 2);
  t.is(r.stderr, 'evoquant: no evoquant stack is running (run: evoquant up)\n');
});

test.serial('start with a good config prints the id of a new evolution workflow', async (t) => {
  const env = await engineEnv();
  const client = await stack().temporal.client();
  const { dir, proxy } = configDir();
  const file = path.join(dir, 'good.yaml');
  const config = goodConfig(proxy);
  // YAML as a person writes it.
  writeFileSync(
    file,
    [
      `name: ${String(config.name)}`,
      'target: {model: qwen3-235b-a22b, hardware: a100-80gb, gpus: 2}',
      'pool: cpu',
      `proxy: ${proxy}`,
      'generations: 1',
      'populationSize: 2',
      'seedRecipes: [w4a16-g128-rtn, bf16]',
      '',
    ].join('\n'),
  );

  const [plain, json] = await Promise.all([cli(['start', '--config', file], env), cli(['start', '--config', file, '--json'], env)]);
  t.is(plain.code, 0, plain.stderr);
  t.is(json.code, 0, json.stderr);
  const id = plain.stdout.trim();
  const jsonId = (JSON.parse(json.stdout) as { id: string }).id;
  t.regex(id, /^cli-test-[0-9a-z]{6}$/);
  t.regex(jsonId, /^cli-test-[0-9a-z]{6}$/);
  t.not(id, jsonId);
  t.teardown(async () => {
    for (const wid of [id, jsonId]) await client.workflow.getHandle(wid).terminate('test done').catch(() => undefined);
  });

  // No worker runs: the workflow waits in Temporal with the validated config as its input.
  const description = await client.workflow.getHandle(id).describe();
  t.is(description.type, 'evolutionWorkflow');
  t.is(description.status.name, 'RUNNING');
  t.is(description.taskQueue, 'evoquant-control');
  const history = await client.workflow.getHandle(id).fetchHistory();
  const input = defaultPayloadConverter.fromPayload<{ evolutionId: string; config: { populationSize: number; evaluation: { tokens: number } } }>(
    history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!,
  );
  t.is(input.evolutionId, id);
  t.is(input.config.populationSize, 2);
  t.is(input.config.evaluation.tokens, 8192, 'zod defaults are filled in before the start');

  const [dup, hist, list] = await Promise.all([
    cli(['start', '--config', file, '--id', id], env),
    cli(['history', id], env),
    cli(['list', '--json'], env),
  ]);
  t.is(dup.code, 2);
  t.is(dup.stderr, `evoquant: evolution ${id} already exists\n`);
  t.is(hist.code, 0, hist.stderr);
  t.is(hist.stdout.trim(), `${id}: no generation has started yet`);
  t.is(list.code, 0, list.stderr);
  const listed = (JSON.parse(list.stdout) as Array<{ id: string; workflowStatus: string }>).map((e) => e.id).sort();
  t.deepEqual(listed, [id, jsonId].sort(), 'exactly the two good starts exist: the bad configs started nothing');
});

// ---------------------------------------------------------------- engine/history.ts, no services

const at = (ms: number): { seconds: number; nanos: number } => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 });
const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);

function handBuiltHistory(): History {
  const input = (value: unknown) => ({ payloads: [defaultPayloadConverter.toPayload(value)] });
  return {
    events: [
      { eventId: 1, eventTime: at(T0), workflowExecutionStartedEventAttributes: { workflowType: { name: 'generationWorkflow' } } },
      // quantize: the first attempt's worker was SIGKILLed; attempt 2 ran elsewhere.
      { eventId: 5, eventTime: at(T0 + 1_000), activityTaskScheduledEventAttributes: { activityId: '3', activityType: { name: 'quantize' }, taskQueue: { name: 'gpu-cpu' }, input: input({ candidateId: 'cand_a', evolutionId: 'e' }) } },
      {
        eventId: 6,
        eventTime: at(T0 + 21_000),
        activityTaskStartedEventAttributes: {
          scheduledEventId: 5,
          attempt: 2,
          identity: 'gpu-cpu@host/2',
          lastFailure: { message: 'activity Heartbeat timeout', timeoutFailureInfo: { timeoutType: 4 } },
        },
      },
      { eventId: 7, eventTime: at(T0 + 24_500), activityTaskCompletedEventAttributes: { scheduledEventId: 5, startedEventId: 6, identity: 'gpu-cpu@host/2' } },
      // record: candidate nested in the input.
      { eventId: 8, eventTime: at(T0 + 25_000), activityTaskScheduledEventAttributes: { activityId: '4', activityType: { name: 'record' }, taskQueue: { name: 'evoquant-control' }, input: input({ kind: 'failed', candidate: { id: 'cand_b' } }) } },
      { eventId: 9, eventTime: at(T0 + 25_010), activityTaskStartedEventAttributes: { scheduledEventId: 8, attempt: 1, identity: 'control@host/1' } },
      {
        eventId: 10,
        eventTime: at(T0 + 25_100),
        activityTaskFailedEventAttributes: {
          scheduledEventId: 8,
          startedEventId: 9,
          failure: { message: 'needs 105 MiB', applicationFailureInfo: { type: 'GpuOutOfMemory', nonRetryable: true } },
        },
      },
      // evaluate: still in flight, known only from the pending activities.
      { eventId: 11, eventTime: at(T0 + 26_000), activityTaskScheduledEventAttributes: { activityId: '5', activityType: { name: 'evaluate' }, taskQueue: { name: 'gpu-cpu' }, input: input({ candidateId: 'cand_a', artifact: {} }) } },
    ],
    // Plain numbers where protobuf has Long: the fold accepts both, the generated types only the latter.
  } as unknown as History;
}

test('history rows: attempts, the lost attempt\'s failure, durations and workers from the events', (t) => {
  const pending = [
    { activityId: '5', state: 2, attempt: 3, lastWorkerIdentity: 'gpu-cpu@host/3', lastFailure: { message: 'chaos', applicationFailureInfo: { type: 'TransientFault' } }, lastStartedTime: at(T0 + 30_000) },
  ] as unknown as PendingActivity[];
  const rows = activityRows('e/gen-0', handBuiltHistory(), pending);
  t.deepEqual(
    rows.map((r) => [r.activityType, r.candidateId, r.attempt, r.outcome, r.workerIdentity]),
    [
      ['quantize', 'cand_a', 2, 'completed', 'gpu-cpu@host/2'],
      ['record', 'cand_b', 1, 'failed', 'control@host/1'],
      ['evaluate', 'cand_a', 3, 'running', 'gpu-cpu@host/3'],
    ],
  );
  const [quantize, record, evaluate] = rows;
  t.deepEqual(quantize!.lastFailure, { message: 'activity Heartbeat timeout', kind: 'timeout', type: 'heartbeat', nonRetryable: false });
  t.is(quantize!.retries, 1);
  t.is(quantize!.waitMs, 20_000);
  t.is(quantize!.runMs, 3_500);
  t.is(quantize!.totalMs, 23_500);
  t.is(quantize!.scheduledAt, new Date(T0 + 1_000).toISOString());
  t.is(quantize!.taskQueue, 'gpu-cpu');
  t.deepEqual(record!.failure, { message: 'needs 105 MiB', kind: 'application', type: 'GpuOutOfMemory', nonRetryable: true });
  t.is(record!.lastFailure, null);
  t.is(evaluate!.lastFailure?.type, 'TransientFault');
  t.is(evaluate!.closedAt, null);
  t.is(evaluate!.runMs, null);

  const summary = summarizeWorkflowHistory('e/gen-0', handBuiltHistory());
  t.is(summary.status, 'running');
  t.is(summary.workflowType, 'generationWorkflow');
  t.is(summary.activities[2]!.outcome, 'scheduled', 'without pending info an unstarted activity is only scheduled');
});
