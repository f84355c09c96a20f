// A Temporal dev server that died without `stop()` (SIGKILL, OOM, a reboot of its host process) is
// brought back by the next start on the address its state file recorded; when something else took
// that port meanwhile, on a new one, recorded in the state file. Its files stay owner-only.
import { chmodSync, existsSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { Client, Connection } from '@temporalio/client';
import { waitForExit } from '../engine/stack/processes.js';
import { readState, temporalStateFile, TemporalState } from '../engine/stack/state-file.js';
import { readTemporalState, startTemporalServer, type TemporalServer } from '../engine/stack/temporal-server.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';

async function kill9(server: TemporalServer): Promise<void> {
  process.kill(server.pid, 'SIGKILL');
  if (!(await waitForExit(server.pid, 10_000))) throw new Error(`pid ${server.pid} survived SIGKILL`);
}

function mode(file: string): number {
  return statSync(file).mode & 0o777;
}

test.serial('a crashed server comes back on its recorded address with its histories; a taken port moves it and the state file says where', async (t) => {
  const dir = makeTempDir('temporal-crash');
  const servers: TemporalServer[] = [];
  t.teardown(async () => {
    for (const s of servers) await s.stop(0).catch(() => undefined);
    removeTempDir(dir);
  });
  const first = await startTemporalServer({ stateDir: dir, mode: 'detached', ui: false, dynamicConfig: { 'frontend.enableUpdateWorkflowExecution': true } });
  servers.push(first);
  t.is(first.recovered, undefined);
  const workflowId = `crash-${process.pid}`;
  {
    const connection = await Connection.connect({ address: first.address });
    await new Client({ connection }).workflow.start('noWorkerServesThis', { taskQueue: 'nobody-listens', workflowId, args: [] });
    await connection.close();
  }

  await kill9(first);
  t.is(readTemporalState(dir), undefined, 'no live server');
  const second = await startTemporalServer({ stateDir: dir, mode: 'detached', ui: false });
  servers.push(second);
  t.not(second.pid, first.pid);
  t.is(second.address, first.address, 'the recorded address');
  t.deepEqual(second.recovered, { previousPid: first.pid, previousAddress: first.address, sameAddress: true });
  t.deepEqual(second.state.extraArgs, first.state.extraArgs, 'the crashed server\'s dynamic config');
  t.is(readState(temporalStateFile(dir), TemporalState)?.pid, second.pid);
  {
    const connection = await Connection.connect({ address: second.address });
    t.is((await new Client({ connection }).workflow.getHandle(workflowId).describe()).status.name, 'RUNNING', 'the history survived');
    await connection.close();
  }

  await kill9(second);
  // The killed server's connections can hold its port for a while (as up itself waits out): retry.
  const squatter = net.createServer((socket) => socket.destroy());
  for (const deadline = Date.now() + 60_000; ; ) {
    const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      squatter.once('error', resolve).listen({ port: second.state.port, host: '127.0.0.1', exclusive: true }, () => {
        squatter.removeAllListeners('error');
        resolve(undefined);
      });
    });
    if (err === undefined) break;
    if (err.code !== 'EADDRINUSE' || Date.now() > deadline) throw err;
    await sleep(250);
  }
  t.teardown(() => new Promise<void>((resolve) => squatter.close(() => resolve())));
  const third = await startTemporalServer({ stateDir: dir, mode: 'detached', ui: false });
  servers.push(third);
  t.not(third.address, second.address);
  t.deepEqual(third.recovered, { previousPid: second.pid, previousAddress: second.address, sameAddress: false });
  t.is(readState(temporalStateFile(dir), TemporalState)?.address, third.address, 'the state file names the new address');
  t.is(third.state.dbFile, second.state.dbFile);
});

test.serial('temporal.db, its -wal/-shm siblings, the log and the state file are owner-only (0600)', async (t) => {
  const dir = makeTempDir('temporal-modes');
  t.teardown(() => removeTempDir(dir));
  const dbFile = path.join(dir, 'temporal.db');
  const first = await startTemporalServer({ stateDir: dir, ui: false, reuse: false });
  t.is(mode(dbFile).toString(8), '600', 'created owner-only');
  await first.stop(0);
  // A db file an older version left world-readable is tightened by the next start.
  chmodSync(dbFile, 0o644);
  // WAL mode, so the -wal and -shm siblings exist while it runs (the default journal is transient).
  const server = await startTemporalServer({ stateDir: dir, ui: false, reuse: false, extraArgs: ['--sqlite-pragma', 'journal_mode=wal'] });
  t.teardown(() => server.stop(0).then(() => undefined));
  // Write something, so SQLite has a reason to create its siblings.
  const connection = await Connection.connect({ address: server.address });
  await new Client({ connection }).workflow.start('noWorkerServesThis', { taskQueue: 'nobody-listens', workflowId: `modes-${process.pid}`, args: [] });
  await connection.close();

  const files = [dbFile, `${dbFile}-wal`, `${dbFile}-shm`, path.join(dir, 'temporal.log'), temporalStateFile(dir)].filter((f) => existsSync(f));
  t.deepEqual(files.map((f) => path.basename(f)), ['temporal.db', 'temporal.db-wal', 'temporal.db-shm', 'temporal.log', 'temporal.json']);
  for (const file of files) t.is(mode(file).toString(8), '600', path.basename(file));
});
