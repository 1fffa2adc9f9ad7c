import { done, type Step } from '../step.js';

/** The env files were parsed and validated before any step ran (every problem listed, exit 2). */
export const envStep: Step = {
  num: 2,
  id: 'env',
  title: 'Load and validate the env files',
  async check(ctx) {
    return done(`${ctx.stack.name} stack: ${ctx.stack.operatorEnvFile} + ${ctx.stack.brokerEnvFile}, region ${ctx.stack.region}`);
  },
};
