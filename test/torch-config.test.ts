// An evolution config may name a real checkpoint (evaluation.model) for the torch executor: its
// shape is zod's, its paths are checked like the proxy's before anything starts, and the
// workflows carry it into quantize/evaluate only when it is set (a proxy evolution's requests,
// and so its replayed histories, are unchanged).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { checkCheckpointModel } from '../engine/client/config-checks.js';
import { EvolutionConfig } from '../schema/evolution-config.js';
import { checkpointOf } from '../workflows/generation.js';

const root = mkdtempSync(join(tmpdir(), 'evoquant-torch-config-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));

const base = { name: 'real', target: { model: 'qwen3-30b-a3b', hardware: 'h100-80gb', gpus: 1 } };

test('evaluation.model: optional, strict, devices and calibration modes by name', (t) => {
  const plain = EvolutionConfig.parse(base);
  t.is(plain.evaluation.model, undefined);
  t.deepEqual(checkpointOf(plain), {}, 'no model: the requests keep their old shape');
  const model = { checkpoint: '/models/qwen3', calibrationText: ['/t/cal.txt'], evaluationText: ['/t/eval.txt'], device: 'cuda', calibrationMode: 'original' };
  const withModel = EvolutionConfig.parse({ ...base, evaluation: { model } });
  t.deepEqual(withModel.evaluation.model, model);
  t.is(withModel.evaluation.tokens, 8192, 'the other evaluation defaults still apply');
  t.deepEqual(checkpointOf(withModel), { model });
  for (const bad of [{ checkpoint: '' }, { checkpoint: '/m', device: 'tpu' }, { checkpoint: '/m', calibrationMode: 'gptq' }, { checkpoint: '/m', calibrationText: [] }, { checkpoint: '/m', extra: 1 }]) {
    t.false(EvolutionConfig.safeParse({ ...base, evaluation: { model: bad } }).success, JSON.stringify(bad));
  }
});

test('the checkpoint and its texts are checked on disk, relative paths stay inside the repository', (t) => {
  const repo = join(root, 'repo');
  const ckpt = join(repo, 'models', 'tiny');
  mkdirSync(ckpt, { recursive: true });
  const check = (model: Parameters<typeof checkCheckpointModel>[0]) => t.throws(() => checkCheckpointModel(model, repo), { name: 'InvalidConfigError' })?.message ?? '';

  t.regex(check({ checkpoint: 'models/none' }), /^config\.evaluation\.model\.checkpoint: .*models\/none does not exist$/);
  t.regex(check({ checkpoint: '../outside' }), /climbs out of the repository/);
  t.regex(check({ checkpoint: 'models/tiny' }), /holds no config\.json/);
  writeFileSync(join(ckpt, 'config.json'), '{}');
  t.regex(check({ checkpoint: 'models/tiny' }), /holds no \.safetensors weights/);
  writeFileSync(join(ckpt, 'model.safetensors'), '');
  t.is(checkCheckpointModel({ checkpoint: 'models/tiny' }, repo), ckpt);

  writeFileSync(join(repo, 'empty.txt'), '');
  writeFileSync(join(repo, 'text.txt'), 'some text');
  t.regex(check({ checkpoint: ckpt, calibrationText: ['text.txt', 'missing.txt'] }), /^config\.evaluation\.model\.calibrationText\[1\]: .*missing\.txt does not exist$/);
  t.regex(check({ checkpoint: ckpt, evaluationText: ['empty.txt'] }), /evaluationText\[0\]: .*empty\.txt is empty/);
  t.regex(check({ checkpoint: ckpt, evaluationText: ['models'] }), /is not a file/);
  t.notThrows(() => checkCheckpointModel({ checkpoint: ckpt, calibrationText: ['text.txt'], evaluationText: [join(repo, 'text.txt')] }, repo));
});
