// evoquant pause|resume|stop <id>: steer a running evolution with one of its updates. The three
// commands differ only in the update they send, so one factory makes them.
import type { Command } from 'commander';
import type { Client } from '@temporalio/client';
import type { EvolutionStatus } from '../../../schema/workflow-contracts.js';
import { emit } from '../output.js';

type ClientControl = typeof import('../../client/control.js');

export interface SteeringCommand {
  name: string;
  description: string;
  /** Sends the update through the client library; resolves to the evolution's status after it. */
  send(control: ClientControl, client: Client, id: string): Promise<EvolutionStatus>;
}

export const STEERING_COMMANDS: readonly SteeringCommand[] = [
  {
    name: 'pause',
    description: 'pause an evolution: the generation in flight finishes, no new one starts until resume',
    send: (control, client, id) => control.pauseEvolution(client, id),
  },
  { name: 'resume', description: 'resume a paused evolution', send: (control, client, id) => control.resumeEvolution(client, id) },
  {
    name: 'stop',
    description: 'stop an evolution gracefully: the generation in flight finishes, then it completes',
    send: (control, client, id) => control.stopEvolution(client, id),
  },
];

export function registerSteeringCommand(program: Command, spec: SteeringCommand): void {
  program
    .command(spec.name)
    .description(spec.description)
    .argument('<id>', 'evolution id')
    .option('--json', 'print JSON')
    .action(async (id: string, flags: { json?: boolean }) => {
      const { resolveEndpoints, withClient } = await import('../../client/connection.js');
      const control = await import('../../client/control.js');
      const { formatEvolutionStatus } = await import('../../client/format.js');
      const status = await withClient(resolveEndpoints(), (client) => spec.send(control, client, id));
      emit(flags, status, () => formatEvolutionStatus(status).join('\n'));
    });
}

export function registerSteeringCommands(program: Command): void {
  for (const spec of STEERING_COMMANDS) registerSteeringCommand(program, spec);
}
