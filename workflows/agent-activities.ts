// The agents' activity options: the control queue, like propose/compile/record. The architect may
// wait on an LLM endpoint (two requests of up to `timeoutSeconds` each), so it gets longer.
import { proxyActivities } from '@temporalio/workflow';
import type { createAgentActivities } from '../activities/agents/index.js';
import { CONTROL_FINAL_FAILURES, nonRetryable } from '../schema/failures.js';

type AgentActivities = ReturnType<typeof createAgentActivities>;

const retry = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', nonRetryableErrorTypes: nonRetryable(...CONTROL_FINAL_FAILURES) } as const;

export const agents = proxyActivities<AgentActivities>({ startToCloseTimeout: '2 minutes', heartbeatTimeout: '10 seconds', retry });

/** The architect alone: an LLM architect's two requests of up to 600 s each fit. */
export const architectAgent = proxyActivities<Pick<AgentActivities, 'architect'>>({ startToCloseTimeout: '21 minutes', heartbeatTimeout: '10 seconds', retry });
