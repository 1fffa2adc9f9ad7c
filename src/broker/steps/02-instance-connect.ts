// Step 2: EC2 Instance Connect on the host: the ec2-instance-connect package (its
// eic_run_authorized_keys answers sshd with the key SendSSHPublicKey pushed) and sshd's drop-in
// naming it. The drop-in is checked by sshd -t before ssh is reloaded, and undone if refused:
// a broken sshd config would lock the operator out.
import { change, done, pending, type Change, type Step } from '../../steps/step.js';
import { shQuote } from '../../ssh/connection.js';
import { onHost, type BrokerContext } from '../context.js';
import { guardedChange, hostRead, hostRun, writeFileScript } from '../host-files.js';

export const SSHD_DROP_IN = 'etc/ssh/sshd_config.d/60-agentkeys-instance-connect.conf';

export const instanceConnect: Step<BrokerContext> = {
  num: 2,
  id: 'instance-connect',
  title: 'EC2 Instance Connect: package and sshd AuthorizedKeysCommand',
  async check(ctx) {
    const eic = `${ctx.paths.eicDir}/eic_run_authorized_keys`;
    const dropIn = onHost(ctx, SSHD_DROP_IN);
    const { facts, files } = await hostRead(ctx.shell, `[ -x ${shQuote(eic)} ] && echo installed`, [dropIn]);
    const want = ctx.files.find((f) => f.path === SSHD_DROP_IN)!;
    const current = files.get(dropIn)!;
    const changes: Change[] = [];
    if (!facts.includes('installed'))
      changes.push(
        change(
          'create',
          'package ec2-instance-connect',
          () =>
            hostRun(
              ctx.shell,
              'DEBIAN_FRONTEND=noninteractive apt-get install -y -q ec2-instance-connect',
              'apt-get install ec2-instance-connect',
            ),
          'apt-get install',
        ),
      );
    if (current.kind !== 'file' || current.content !== want.content)
      changes.push(
        change(
          current.kind === 'missing' ? 'create' : 'update',
          `/${SSHD_DROP_IN}`,
          () =>
            guardedChange(ctx.shell, {
              touched: [dropIn],
              change: writeFileScript(dropIn, want.content, want.mode),
              validate: `sshd -t -f ${shQuote(onHost(ctx, 'etc/ssh/sshd_config'))}`,
              after: 'systemctl reload ssh',
              what: `/${SSHD_DROP_IN}`,
            }),
          'checked by sshd -t, then ssh reloaded',
        ),
      );
    if (changes.length > 0) return pending(changes);
    return done('ec2-instance-connect installed; sshd asks it for keys');
  },
};
