import type { ExitCode } from '../src/errors.js';
import { createContext } from './context.js';
import { runDoctorFor, type DoctorOptions } from './doctor-run.js';
import { refuseKeepWithoutSandbox } from './options.js';

/** `agentkeys doctor`: the checks of the stack the env files name (`doctor --sandbox`: commands/sandbox.ts). */
export async function runDoctorCommand(options: DoctorOptions & { keep?: string }): Promise<ExitCode> {
  refuseKeepWithoutSandbox('doctor', options);
  return runDoctorFor(await createContext({ ...options }), options);
}
