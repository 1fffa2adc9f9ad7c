// Step 1: the `agentkey` login user EC2 Instance Connect logs in as (with passwordless sudo, as
// the runbook gives both sudo), and the `agentkeys` system user the services run as.
import { change, done, pending, type Change, type Step } from '../../steps/step.js';
import { shQuote } from '../../ssh/connection.js';
import { onHost, prefixFlag, type BrokerContext } from '../context.js';
import { guardedChange, hostRead, hostRun, writeFileScript, type HostFile } from '../host-files.js';

export const LOGIN_USER = 'agentkey';
export const SERVICE_USER = 'agentkeys';
const SUDOERS = 'etc/sudoers.d/90-agentkey';
const SUDOERS_LINE = `${LOGIN_USER} ALL=(ALL) NOPASSWD:ALL\n`;

interface UserFacts {
  login: boolean;
  service: boolean;
  inSudo: boolean;
}

const sudoersOf = (ctx: BrokerContext) => onHost(ctx, SUDOERS);

async function userFacts(ctx: BrokerContext): Promise<UserFacts & { sudoers: HostFile }> {
  const passwd = shQuote(onHost(ctx, 'etc/passwd'));
  const group = shQuote(onHost(ctx, 'etc/group'));
  const { facts, files } = await hostRead(
    ctx.shell,
    `awk -F: '$1=="${LOGIN_USER}"{print "login"} $1=="${SERVICE_USER}"{print "service"}' ${passwd}\n` +
      `awk -F: '$1=="sudo"{print "sudo " $4}' ${group}`,
    [sudoersOf(ctx)],
  );
  const sudo = facts.find((l) => l.startsWith('sudo '))?.slice(5) ?? '';
  return {
    login: facts.includes('login'),
    service: facts.includes('service'),
    inSudo: sudo.split(',').includes(LOGIN_USER),
    sudoers: files.get(sudoersOf(ctx))!,
  };
}

export const loginUser: Step<BrokerContext> = {
  num: 1,
  id: 'login-user',
  title: `${LOGIN_USER} login user (sudo) and ${SERVICE_USER} service user`,
  async check(ctx) {
    const facts = await userFacts(ctx);
    const sudoers = sudoersOf(ctx);
    const current = facts.sudoers;
    const p = prefixFlag(ctx);
    const run = (what: string, script: string) => () => hostRun(ctx.shell, script, what);
    const changes: Change[] = [];
    if (!facts.login)
      changes.push(
        change(
          'create',
          `user ${LOGIN_USER}`,
          run('useradd', `useradd${p} --create-home --shell /bin/bash --groups sudo ${LOGIN_USER}`),
          'login user, in group sudo',
        ),
      );
    else if (!facts.inSudo)
      changes.push(
        change('update', `user ${LOGIN_USER}`, run('usermod', `usermod${p} -aG sudo ${LOGIN_USER}`), 'add to sudo'),
      );
    if (!facts.service)
      changes.push(
        change(
          'create',
          `user ${SERVICE_USER}`,
          run(
            'useradd',
            `useradd${p} --system --home-dir /var/lib/agentkeys --no-create-home ` +
              `--shell /usr/sbin/nologin ${SERVICE_USER}`,
          ),
          'system user the services run as',
        ),
      );
    if (current.kind !== 'file' || current.content !== SUDOERS_LINE || current.mode !== 0o440)
      changes.push(
        change(
          current.kind === 'missing' ? 'create' : 'update',
          `/${SUDOERS}`,
          // visudo refuses a sudoers file that would break sudo; without visudo there is no sudo to break.
          () =>
            guardedChange(ctx.shell, {
              touched: [sudoers],
              change: writeFileScript(sudoers, SUDOERS_LINE, 0o440),
              validate: `! command -v visudo >/dev/null || visudo -cqf ${shQuote(sudoers)}`,
              what: `/${SUDOERS}`,
            }),
          'passwordless sudo for agentkey',
        ),
      );
    if (changes.length > 0) return pending(changes);
    return done(`${LOGIN_USER} (sudo) and ${SERVICE_USER} exist`);
  },
};
