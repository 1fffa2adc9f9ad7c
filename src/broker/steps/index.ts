// The broker host's steps, in order: each checks read-only over SSH first, then applies.
import type { Step } from '../../steps/step.js';
import type { BrokerContext } from '../context.js';
import { loginUser } from './01-login-user.js';
import { instanceConnect } from './02-instance-connect.js';
import { hostFiles } from './03-host-files.js';
import { binaries } from './04-binaries.js';
import { keypairs } from './05-keypairs.js';
import { masterSecret } from './06-master-secret.js';
import { nginxPhaseA } from './07-nginx-phase-a.js';
import { certificates } from './08-certificates.js';
import { nginxPhaseB } from './09-nginx-phase-b.js';
import { services } from './10-services.js';
import { watchTimers } from './11-watch.js';

export const BROKER_STEPS: readonly Step<BrokerContext>[] = [
  loginUser,
  instanceConnect,
  hostFiles,
  binaries,
  keypairs,
  masterSecret,
  nginxPhaseA,
  certificates,
  nginxPhaseB,
  services,
  watchTimers,
];
