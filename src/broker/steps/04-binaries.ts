// Step 4: the service binaries in place, each compared by SHA-256. Either uploaded from this
// machine (--upload-bin DIR: prebuilt, checked after the copy) or built on the host from the
// upstream repository at a pinned commit (--build-ref COMMIT --repo URL), as setup-broker-host.sh
// did. A build takes minutes (cargo), so it runs detached on the host and the step waits on it;
// an SSH drop never kills it. Without either flag the step only checks the binaries are there.
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { AgentkeysError } from '../../errors.js';
import { blocked, change, done, once, pending, waiting, type Change, type Step } from '../../steps/step.js';
import { shQuote } from '../../ssh/connection.js';
import { brokerRerun, type BrokerContext, type LocalBinary } from '../context.js';
import { hostRun } from '../host-files.js';

const STAMP = '.agentkeys-release.json';

interface BinaryFacts {
  /** binary → its SHA-256 on the host, or undefined when it is not there. */
  sha: Map<string, string | undefined>;
  stamp?: { ref?: string; sha256?: Record<string, string> } | undefined;
  build?: { running: boolean; ref?: string; rc?: number; tail: string };
  /** MemTotal and SwapTotal in KiB (/proc/meminfo), when the host has them. */
  memory?: { memKiB: number; swapKiB: number };
}

/**
 * A build needs about 2 GiB: upstream's t3.micro (1 GiB) was OOM-killed compiling aws-sdk-s3. A
 * t3.small reports a little under 2 GiB as MemTotal, hence 1800 MiB of memory and swap together.
 */
export const BUILD_MIN_MIB = 1800;

export function buildMemoryProblem(memory: BinaryFacts['memory']): string | undefined {
  if (!memory) return undefined;
  const mib = Math.floor((memory.memKiB + memory.swapKiB) / 1024);
  if (mib >= BUILD_MIN_MIB) return undefined;
  return (
    `the host has ${mib} MiB of memory and swap: a cargo build there is OOM-killed below ` +
    `${BUILD_MIN_MIB} MiB (upstream's t3.micro)`
  );
}

const buildDir = (ctx: BrokerContext) => path.posix.join(ctx.paths.stateDir, 'build');

async function binaryFacts(ctx: BrokerContext): Promise<BinaryFacts> {
  const dir = ctx.paths.binDir;
  const b = buildDir(ctx);
  const script = [
    ...ctx.services.map(
      (s) =>
        `f=${shQuote(`${dir}/${s.binary}`)}; if [ -f "$f" ]; then ` +
        `printf 'bin %s %s\\n' ${s.binary} "$(sha256sum < "$f" | cut -d' ' -f1)"; ` +
        `else printf 'bin %s -\\n' ${s.binary}; fi`,
    ),
    `s=${shQuote(`${dir}/${STAMP}`)}`,
    `if [ -f "$s" ]; then printf 'stamp %s\\n' "$(base64 -w0 "$s")"; fi`,
    `b=${shQuote(b)}`,
    // Running: the pid's command line is still our runner (a pid reused after a reboot is not).
    `if [ -f "$b/pid" ] && grep -qa run.sh "/proc/$(cat "$b/pid")/cmdline" 2>/dev/null; then echo build running; ` +
      `elif [ -f "$b/status" ]; then printf 'build done %s\\n' "$(cat "$b/status")"; fi`,
    `if [ -f "$b/log" ]; then printf 'tail %s\\n' "$(tail -n 5 "$b/log" | base64 -w0)"; fi`,
    `awk '/^MemTotal:/{m=$2} /^SwapTotal:/{s=$2} END{if (m) printf "mem %d %d\\n", m, s}' ` +
      '/proc/meminfo 2>/dev/null || true',
  ].join('\n');
  const lines = (await hostRun(ctx.shell, script, 'read the binaries')).stdout.split('\n');
  const sha = new Map<string, string | undefined>();
  for (const l of lines) {
    const m = /^bin (\S+) (\S+)$/.exec(l);
    if (m) sha.set(m[1]!, m[2] === '-' ? undefined : m[2]);
  }
  const stampLine = lines.find((l) => l.startsWith('stamp '));
  const tail = Buffer.from(lines.find((l) => l.startsWith('tail '))?.slice(5) ?? '', 'base64').toString('utf8');
  const buildLine = lines.find((l) => l.startsWith('build '));
  const mem = lines.map((l) => /^mem (\d+) (\d+)$/.exec(l)).find((m) => m);
  const done = buildLine ? /^build done (\S+) (\d+)$/.exec(buildLine) : null;
  return {
    sha,
    ...(stampLine ? { stamp: parseStamp(stampLine.slice(6)) } : {}),
    ...(mem ? { memory: { memKiB: Number(mem[1]), swapKiB: Number(mem[2]) } } : {}),
    ...(buildLine
      ? {
          build: {
            running: buildLine === 'build running',
            ...(done ? { ref: done[1]!, rc: Number(done[2]) } : {}),
            tail: tail.trim().split('\n').slice(-3).join(' | '),
          },
        }
      : {}),
  };
}

/** The stamp is the host's own file, but read as untrusted: anything odd is "no stamp". */
function parseStamp(b64: string): BinaryFacts['stamp'] {
  try {
    const v = JSON.parse(Buffer.from(b64, 'base64').toString('utf8')) as unknown;
    return typeof v === 'object' && v !== null ? (v as BinaryFacts['stamp']) : undefined;
  } catch {
    return undefined;
  }
}

export const binaries: Step<BrokerContext> = {
  num: 4,
  id: 'binaries',
  title: 'service binaries installed, by checksum (uploaded, or built on the host at a pinned commit)',
  pollable: true,
  async check(ctx) {
    const facts = await binaryFacts(ctx);
    const release = ctx.release;
    if (!release) return presentOnly(ctx, facts);
    if (release.kind === 'upload') return uploadState(ctx, facts, release.binaries);
    return buildState(ctx, facts, release);
  },
};

function presentOnly(ctx: BrokerContext, facts: BinaryFacts) {
  const missing = ctx.services.filter((s) => facts.sha.get(s.binary) === undefined);
  if (missing.length === 0)
    return done(
      `${ctx.services.length} binaries in ${ctx.paths.binDir}` +
        (facts.stamp?.ref ? ` (built from ${facts.stamp.ref})` : ' (not compared with a release: no --upload-bin)'),
    );
  return blocked(
    `${missing.length} service binar${missing.length === 1 ? 'y is' : 'ies are'} not installed: ` +
      missing.map((s) => `${ctx.paths.binDir}/${s.binary}`).join(', '),
    `${brokerRerun(ctx, 'binaries')} --upload-bin DIR (prebuilt) or --build-ref COMMIT --repo URL (built on the host)`,
  );
}

function uploadState(ctx: BrokerContext, facts: BinaryFacts, local: LocalBinary[]) {
  const stale = local.filter((b) => facts.sha.get(b.binary) !== b.sha256);
  if (stale.length === 0) return done(`${local.length} binaries match the uploaded release (SHA-256)`);
  return pending(
    stale.map((b) =>
      change(
        facts.sha.get(b.binary) === undefined ? 'create' : 'update',
        `${ctx.paths.binDir}/${b.binary}`,
        () => upload(ctx, b),
        `${sizeOf(b.size)}, sha256 ${b.sha256.slice(0, 12)}…`,
      ),
    ),
  );
}

const sizeOf = (n: number) => (n >= 1048576 ? `${(n / 1048576).toFixed(1)} MiB` : `${Math.ceil(n / 1024)} KiB`);

/**
 * One binary per script: its base64 rides after the script's last line (`exit`), where sh never
 * parses it; the script reads it back from its own file ("$0": the runner runs a file) with tail,
 * far cheaper than a heredoc of tens of MiB. The checksum is compared on the host before the rename.
 */
async function upload(ctx: BrokerContext, b: LocalBinary): Promise<void> {
  const dest = `${ctx.paths.binDir}/${b.binary}`;
  const head = [
    'set -e',
    `[ -f "$0" ] || { echo 'the upload script is not running from its file' >&2; exit 5; }`,
    `mkdir -p ${shQuote(ctx.paths.binDir)}`,
    `t=$(mktemp ${shQuote(`${ctx.paths.binDir}/.agentkeys.`)}XXXXXX)`,
    `trap 'rm -f "$t"' EXIT`,
    'tail -n +PAYLOAD "$0" | base64 -d > "$t"',
    `if [ "$(sha256sum < "$t" | cut -d' ' -f1)" != ${b.sha256} ]; then ` +
      `echo 'the uploaded copy has another checksum' >&2; exit 4; fi`,
    'chmod 755 "$t"',
    'sync "$t"',
    `mv -f "$t" ${shQuote(dest)}`,
    // A running service picks the new binary up now (a stopped one is started by step 10).
    `systemctl try-restart ${unitsOf(ctx, b.binary)}`,
    'exit 0',
  ];
  const script = head.join('\n').replace('PAYLOAD', String(head.length + 1));
  const payload = (await readFile(b.file)).toString('base64');
  await hostRun(ctx.shell, `${script}\n${payload}\n`, `upload ${b.binary}`);
}

const unitsOf = (ctx: BrokerContext, binary?: string) =>
  ctx.services
    .filter((s) => binary === undefined || s.binary === binary)
    .map((s) => `agentkeys-${s.name}.service`)
    .join(' ');

function buildState(
  ctx: BrokerContext,
  facts: BinaryFacts,
  release: Extract<BrokerContext['release'], { kind: 'build' }>,
) {
  const built =
    facts.stamp?.ref === release.ref &&
    ctx.services.every((s) => {
      const sha = facts.sha.get(s.binary);
      return sha !== undefined && facts.stamp?.sha256?.[s.binary] === sha;
    });
  if (built) return done(`${ctx.services.length} binaries built from ${release.ref}, checksums as the build left them`);
  const log = `${buildDir(ctx)}/log`;
  if (facts.build?.running)
    return waiting(
      `building ${release.ref} on the host (log: ${log}${facts.build.tail ? `; last: ${facts.build.tail}` : ''})`,
      `${brokerRerun(ctx, 'binaries')} --build-ref ${release.ref} --repo … --wait 1800`,
    );
  const failed = facts.build?.ref === release.ref && facts.build.rc !== 0 ? facts.build : undefined;
  if (failed && ctx.state.startedBuild)
    throw new AgentkeysError({
      code: 'HOST_BUILD_FAILED',
      message: `the build of ${release.ref} on the host exited ${failed.rc}: ${failed.tail || '(no output)'}`,
      hint: `the whole log is ${log} on the host (agentkeys ssh); fix the cause and re-run`,
    });
  const small = buildMemoryProblem(facts.memory);
  if (small)
    return blocked(
      small,
      'resize it (t3.small: stop, modify-instance-attribute, start; the EIP stays attached), add swap, ' +
        'or build elsewhere and pass --upload-bin DIR',
    );
  const detail = failed
    ? `again: the last attempt exited ${failed.rc} (${failed.tail})`
    : `${release.repo} at ${release.ref}: ${release.command}`;
  const start = once(() => startBuild(ctx, release));
  const changes: Change[] = [change(facts.stamp ? 'update' : 'create', `build ${release.ref}`, start, detail)];
  return pending(changes);
}

/**
 * The build script, started detached (setsid nohup) with its log and exit status in the state
 * folder: checkout of the pinned commit (verified), the build command, then each artefact
 * installed atomically and the stamp with their checksums written last.
 */
async function startBuild(ctx: BrokerContext, release: Extract<BrokerContext['release'], { kind: 'build' }>) {
  const b = buildDir(ctx);
  const src = `${b}/src`;
  const bins = ctx.services.map((s) => s.binary);
  const install = bins
    .map(
      (bin) =>
        `test -f ${shQuote(`${release.out}/${bin}`)} || { echo "the build made no ${release.out}/${bin}"; exit 6; }`,
    )
    .concat(
      bins.map(
        (bin) =>
          `t=$(mktemp ${shQuote(`${ctx.paths.binDir}/.agentkeys.`)}XXXXXX); ` +
          `cp ${shQuote(`${release.out}/${bin}`)} "$t"; ` +
          `chmod 755 "$t"; sync "$t"; mv -f "$t" ${shQuote(`${ctx.paths.binDir}/${bin}`)}`,
      ),
    );
  const stamp = [
    `{ printf '{"source":"build","repo":"%s","ref":"%s","sha256":{' ` +
      `${shQuote(release.repo.replace(/["\\\\]/g, ''))} ${release.ref}`,
    "  sep=''",
    `  for bin in ${bins.map(shQuote).join(' ')}; do`,
    `    h=$(sha256sum < ${shQuote(ctx.paths.binDir)}/"$bin" | cut -d' ' -f1)`,
    `    printf '%s"%s":"%s"' "$sep" "$bin" "$h"; sep=','`,
    '  done',
    `  printf '}}\\n'; } > "$b/stamp.tmp"`,
  ].join('\n');
  const build = [
    'set -e',
    `b=${shQuote(b)}`,
    `if [ ! -d ${shQuote(`${src}/.git`)} ]; then rm -rf ${shQuote(src)}; ` +
      `git clone --quiet ${shQuote(release.repo)} ${shQuote(src)}; fi`,
    `cd ${shQuote(src)}`,
    `git fetch --quiet origin || true`,
    `git -c advice.detachedHead=false checkout --quiet --force ${release.ref}`,
    `test "$(git rev-parse HEAD)" = ${release.ref} || { echo 'HEAD is not ${release.ref}'; exit 5; }`,
    release.command,
    `mkdir -p ${shQuote(ctx.paths.binDir)}`,
    ...install,
    stamp,
    `mv -f "$b/stamp.tmp" ${shQuote(`${ctx.paths.binDir}/${STAMP}`)}`,
    `systemctl try-restart ${unitsOf(ctx)}`,
  ].join('\n');
  const runner =
    `echo $$ > "$b/pid"; sh "$b/build.sh"; rc=$?; ` +
    `printf '%s %s\\n' ${release.ref} "$rc" > "$b/status"; rm -f "$b/pid"`;
  const script = [
    'set -e',
    `b=${shQuote(b)}`,
    'mkdir -p "$b"',
    'rm -f "$b/status"',
    `printf '%s\\n' ${shQuote(build)} > "$b/build.sh"`,
    `printf '%s\\n' ${shQuote(runner)} > "$b/run.sh"`,
    // Detached from the SSH session: its own session, no terminal, every stream to the log.
    `b="$b" setsid nohup sh "$b/run.sh" > "$b/log" 2>&1 < /dev/null &`,
    'echo $! > "$b/pid"',
  ].join('\n');
  await hostRun(ctx.shell, script, `start the build of ${release.ref}`);
  ctx.state.startedBuild = true;
}
