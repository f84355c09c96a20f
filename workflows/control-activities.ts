// The control queue's activity options, shared by both workflows.
import { proxyActivities } from '@temporalio/workflow';
import type { createControlActivities } from '../activities/control.js';
import { CONTROL_FINAL_FAILURES, nonRetryable } from '../schema/failures.js';

export const control = proxyActivities<ReturnType<typeof createControlActivities>>({
  startToCloseTimeout: '2 minutes',
  // The control worker beats while it works (activities/keep-alive.ts): one that dies mid-task is
  // retried after this, not after the start-to-close timeout.
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', nonRetryableErrorTypes: nonRetryable(...CONTROL_FINAL_FAILURES) },
});
