// The local Temporal dev server: start, talk to it, stop, restart on the same SQLite file.
import { existsSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { Client, Connection } from '@temporalio/client';
import { isAlive } from '../engine/stack/processes.js';
import { readTemporalState, startTemporalServer, stopTemporalServer } from '../engine/stack/temporal-server.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';
import { testTemporalCli, useTemporal } from './helpers/temporal.js';

const temporal = useTemporal(test);

test.serial('a terminated workflow is still visible after the server restarts on the same db file', async (t) => {
  const server = temporal();
  const workflowId = `stack-test-${Date.now()}`;
  const client = await server.client();
  // No worker serves this type: the execution just waits until we terminate it.
  const handle = await client.workflow.start('noWorkerServesThis', { taskQueue: 'nobody-listens', workflowId, args: [] });
  await handle.terminate('test is done with it');
  t.is((await handle.describe()).status.name, 'TERMINATED');

  const before = { pid: server.server.pid, address: server.address };
  await server.restart();
  t.not(server.server.pid, before.pid, 'a new process');
  t.is(server.server.address, before.address, 'same address, so clients keep working');

  const after = (await server.client()).workflow.getHandle(workflowId);
  const description = await after.describe();
  t.is(description.status.name, 'TERMINATED');
  t.is(description.type, 'noWorkerServesThis');
  const history = await after.fetchHistory();
  t.true((history.events?.length ?? 0) >= 2, 'started and terminated events survive');
});

test.serial('the state file records the running server', (t) => {
  const { stateDir, server } = temporal();
  const state = readTemporalState(stateDir);
  t.truthy(state);
  t.is(state?.pid, server.pid);
  t.is(state?.dbFile, path.join(stateDir, 'temporal.db'));
  t.true(existsSync(state?.dbFile ?? ''));
});

test.serial('a detached server is adopted by a second start and stopped through its state dir', async (t) => {
  const dir = makeTempDir('temporal-detached');
  t.teardown(() => removeTempDir(dir));
  const first = await startTemporalServer({
    stateDir: dir,
    mode: 'detached',
    ui: false,
    cli: testTemporalCli(),
    dynamicConfig: { 'frontend.enableUpdateWorkflowExecution': true },
  });
  t.teardown(() => first.stop().then(() => undefined));
  t.true(first.state.extraArgs.includes('frontend.enableUpdateWorkflowExecution=true'));

  const second = await startTemporalServer({ stateDir: dir, ui: false, cli: testTemporalCli() });
  t.is(second.pid, first.pid, 'adopted, not started twice');

  const connection = await Connection.connect({ address: second.address });
  try {
    const info = await new Client({ connection }).workflowService.getSystemInfo({});
    t.truthy(info.serverVersion);
  } finally {
    await connection.close();
  }

  t.is(await stopTemporalServer(dir), 'exited');
  t.false(isAlive(first.pid));
  t.is(readTemporalState(dir), undefined);
  t.is(await stopTemporalServer(dir), 'not-running');
});
