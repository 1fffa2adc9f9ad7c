// The broker host's steps, in order: each checks read-only over SSH first, then applies.
import type { Step } from '../../steps/step.js';
import type { BrokerContext } from '../context.js';
import { loginUser } from './01-login-user.js';
import { instanceConnect } from './02-instance-connect.js';
import { hostFiles } from './03-host-files.js';
import { nginxPhaseA } from './04-nginx-phase-a.js';
import { certificates } from './05-certificates.js';
import { nginxPhaseB } from './06-nginx-phase-b.js';
import { services } from './07-services.js';
import { watchTimers } from './08-watch.js';

export const BROKER_STEPS: readonly Step<BrokerContext>[] = [
  loginUser,
  instanceConnect,
  hostFiles,
  nginxPhaseA,
  certificates,
  nginxPhaseB,
  services,
  watchTimers,
];
