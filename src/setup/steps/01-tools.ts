import { spawnSync } from 'node:child_process';
import { done, type Step } from '../step.js';

/** Upstream needed aws, jq, curl, openssl, awk and sed; agentkeys needs none of them. */
export const toolsStep: Step = {
  num: 1,
  id: 'tools',
  title: 'Check local tools',
  async check() {
    const ssh = spawnSync('ssh', ['-V'], { stdio: 'ignore' }).status === 0;
    return done(`node ${process.version}; no AWS CLI, jq or openssl needed${ssh ? '' : ' (ssh not found: agentkeys ssh will need it)'}`);
  },
};
