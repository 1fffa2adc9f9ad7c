// doctor --isolation: the tenant isolation the data-class roles promise, shown with IAM's own
// policy simulator. The broker assumes a class role with the session tag agentkeys_actor_omni;
// with that tag as context (and each bucket's policy as the resource policy), an actor may write
// and read its own prefix of each data class, and is denied another actor's prefix, another data
// class's bucket, and any prefix at all without the tag.
import type { Stack } from '../../config/stack.js';
import { fail, ok, stackOf, type DoctorCheck, type DoctorContext } from '../check.js';

const TAG = 'aws:PrincipalTag/agentkeys_actor_omni';
const ACTOR = 'isolation-probe-a';
const OTHER = 'isolation-probe-b';
const ACTIONS = ['s3:PutObject', 's3:GetObject'];

type DataClass = Stack['dataClasses'][number];

interface Probe {
  what: string;
  bucket: DataClass;
  actor: string;
  tagged: boolean;
  allowed: boolean;
}

function probesFor(stack: Stack, dc: DataClass): Probe[] {
  const other = stack.dataClasses.find((d) => d.cls !== dc.cls);
  return [
    { what: 'its own prefix', bucket: dc, actor: ACTOR, tagged: true, allowed: true },
    { what: "another actor's prefix", bucket: dc, actor: OTHER, tagged: true, allowed: false },
    { what: 'its own prefix without the session tag', bucket: dc, actor: ACTOR, tagged: false, allowed: false },
    ...(other
      ? [{ what: `the ${other.cls} class's bucket`, bucket: other, actor: ACTOR, tagged: true, allowed: false }]
      : []),
  ];
}

async function runProbe(ctx: DoctorContext, dc: DataClass, probe: Probe): Promise<string | undefined> {
  const { stack, aws } = stackOf(ctx);
  const role = `arn:aws:iam::${stack.accountId}:role/${dc.role}`;
  const key = `arn:aws:s3:::${probe.bucket.bucket}/bots/${probe.actor}/${probe.bucket.prefixClass}/doctor-isolation`;
  const resourcePolicy = await aws.getBucketPolicy(probe.bucket.bucket);
  const decisions = await aws.simulatePrincipalPolicy(role, ACTIONS, [key], {
    ...(probe.tagged ? { context: { [TAG]: ACTOR } } : {}),
    ...(resourcePolicy ? { resourcePolicy } : {}),
  });
  const wrong = decisions.filter((d) => (d.decision === 'allowed') !== probe.allowed);
  if (wrong.length === 0) return undefined;
  return (
    `${dc.role} ${probe.allowed ? 'may not' : 'may'} ${wrong.map((d) => d.action).join(', ')} ` +
    `${probe.what} (${key.replace('arn:aws:s3:::', 's3://')})`
  );
}

export const isolationCheck: DoctorCheck = {
  id: 'isolation',
  group: 'isolation',
  title: 'Each actor reaches its own prefix of each data class, and nothing else (IAM policy simulator)',
  needs: ['aws.account'],
  async run(ctx) {
    const { stack } = stackOf(ctx);
    const problems: string[] = [];
    let probes = 0;
    for (const dc of stack.dataClasses)
      for (const probe of probesFor(stack, dc)) {
        probes++;
        const problem = await runProbe(ctx, dc, probe);
        if (problem) problems.push(problem);
      }
    if (problems.length > 0)
      return fail(
        problems.join('; '),
        `put the class roles and bucket policies back: agentkeys setup${stack.name === 'test' ? ' --test' : ''} ` +
          '--only-step data-classes',
      );
    return ok(
      `${probes} probes over ${stack.dataClasses.length} data classes: own prefix allowed; another actor's, ` +
        "another class's and an untagged session denied",
    );
  },
};
