// The house style's dependency rules (style.md §2), checked on the source: src/ never imports
// commands/ or bin/; only src/aws/ talks to the AWS SDK; the offline verifier (src/audit,
// src/signing) imports no AWS code at all, so verify-audit runs without credentials.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? files(full) : full.endsWith('.ts') ? [full] : [];
  });
}

const imports = (file: string) => {
  const text = readFileSync(file, 'utf8');
  const statics = [...text.matchAll(/^import\s+(type\s+)?[^'"]*['"]([^'"]+)['"]/gm)].map((m) => ({
    typeOnly: Boolean(m[1]),
    spec: m[2]!,
  }));
  const dynamics = [...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => ({
    typeOnly: false,
    spec: m[1]!,
  }));
  return [...statics, ...dynamics];
};

describe('architecture', () => {
  it('src/ never imports commands/ or bin/', () => {
    const bad = files('src').flatMap((f) =>
      imports(f)
        .filter((i) => /(^|\/)(commands|bin)\//.test(i.spec))
        .map((i) => `${f} → ${i.spec}`),
    );
    expect(bad).toEqual([]);
  });

  it('a command never imports another command: what two share lives in src/, commands/ui or a support module', () => {
    // A command module is one bin/agentkeys.ts loads; kms-support.ts, audit-writer.ts, setup-run.ts
    // and the like are support modules the commands share, and import no command themselves.
    const bin = readFileSync(path.join('bin', 'agentkeys.ts'), 'utf8');
    const commands = new Set([...bin.matchAll(/import\('\.\.\/commands\/([a-z-]+)\.js'\)/g)].map((m) => m[1]!));
    const bad = files('commands').flatMap((f) =>
      imports(f)
        .filter((i) => i.spec.startsWith('./') && commands.has(path.basename(i.spec, '.js')))
        .map((i) => `${f} → ${i.spec}`),
    );
    expect(commands.size).toBeGreaterThan(15);
    expect(bad).toEqual([]);
  });

  it('the step engine (src/steps) knows no step: setup and the broker build on it, never the reverse', () => {
    const bad = files(path.join('src', 'steps')).flatMap((f) =>
      imports(f)
        .filter((i) => /\/(setup|broker|aws)\//.test(i.spec) || /^\.\.\/(setup|broker|aws)\//.test(i.spec))
        .map((i) => `${f} → ${i.spec}`),
    );
    const brokerOnSetup = files(path.join('src', 'broker')).flatMap((f) =>
      imports(f)
        .filter((i) => /\/setup\//.test(i.spec))
        .map((i) => `${f} → ${i.spec}`),
    );
    expect([...bad, ...brokerOnSetup]).toEqual([]);
  });

  it('src/aws holds adapters only: it imports nothing of agentkeys but errors and src/sys', () => {
    const bad = files(path.join('src', 'aws')).flatMap((f) =>
      imports(f)
        .filter((i) => i.spec.startsWith('../') && !/^\.\.\/(errors|sys\/[a-z-]+)\.js$/.test(i.spec))
        .map((i) => `${f} → ${i.spec}`),
    );
    expect(bad).toEqual([]);
  });

  it('no import cycle anywhere in src/ (type imports included): each module sits above what it imports', () => {
    const graph = new Map(
      files('src').map((f) => [
        f,
        imports(f)
          .filter((i) => i.spec.startsWith('.'))
          .map((i) => path.normalize(path.join(path.dirname(f), i.spec)).replace(/\.js$/, '.ts')),
      ]),
    );
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (f: string, trail: string[]): void => {
      if (state.get(f) === 'done' || !graph.has(f)) return;
      if (state.get(f) === 'open') {
        cycles.push([...trail.slice(trail.indexOf(f)), f].join(' → '));
        return;
      }
      state.set(f, 'open');
      for (const dep of graph.get(f)!) visit(dep, [...trail, f]);
      state.set(f, 'done');
    };
    for (const f of graph.keys()) visit(f, []);
    expect(cycles).toEqual([]);
  });

  it('comments resolve inside the repository: no outside notes or seeds, and every docs/… § cited exists', () => {
    const code = [...files('src'), ...files('commands'), path.join('bin', 'agentkeys.ts')];
    const outside = code.flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .flatMap((line, i) =>
          /agent-manager-audit-format|aws-and-moto\.md|setup-steps\.md|\bseeds? ?0\d\d/.test(line)
            ? [`${f}:${i + 1}`]
            : [],
        ),
    );
    const broken = code.flatMap((f) =>
      [...readFileSync(f, 'utf8').matchAll(/docs\/([a-z-]+\.md)(?: §(\d+))?/g)].flatMap((m) => {
        const doc = path.join('docs', m[1]!);
        let text: string;
        try {
          text = readFileSync(doc, 'utf8');
        } catch {
          return [`${f} → ${doc} (missing)`];
        }
        return m[2] && !new RegExp(`^## §${m[2]} `, 'm').test(text) ? [`${f} → ${doc} §${m[2]} (no such section)`] : [];
      }),
    );
    expect([...outside, ...broken]).toEqual([]);
  });

  it('commands open KMS signers only through Services.openKmsSigner, and cast no errors by hand', () => {
    const opened = files('commands').filter((f) => /KmsSigner\.open\(/.test(readFileSync(f, 'utf8')));
    const casts = [...files('src'), ...files('commands')].filter((f) =>
      /as NodeJS\.ErrnoException|\((err|e|error) as Error\)\.(message|name)/.test(readFileSync(f, 'utf8')),
    );
    expect({ opened, casts }).toEqual({ opened: [], casts: [] });
  });

  it('only src/aws/ imports the AWS SDK', () => {
    const bad = [...files('src'), ...files('commands')]
      .filter((f) => !f.startsWith(path.join('src', 'aws')))
      .flatMap((f) =>
        imports(f)
          .filter((i) => i.spec.startsWith('@aws-sdk/'))
          .map((i) => `${f} → ${i.spec}`),
      );
    expect(bad).toEqual([]);
  });

  it('the offline verifier and signer registry import no AWS code (type imports aside)', () => {
    const bad = [...files(path.join('src', 'audit')), ...files(path.join('src', 'signing'))].flatMap((f) =>
      imports(f)
        .filter((i) => !i.typeOnly && (i.spec.includes('/aws/') || i.spec.startsWith('@aws-')))
        .map((i) => `${f} → ${i.spec}`),
    );
    expect(bad).toEqual([]);
  });

  it('only commands/ui prints with chalk, prompts with inquirer or draws listr2 tasks', () => {
    const bad = [...files('src'), ...files('commands')]
      .filter((f) => !f.startsWith(path.join('commands', 'ui')))
      .flatMap((f) =>
        imports(f)
          .filter((i) => i.spec === 'chalk' || i.spec === 'listr2' || i.spec.startsWith('@inquirer/'))
          .map((i) => `${f} → ${i.spec}`),
      );
    expect(bad).toEqual([]);
  });

  it('offline verify-audit loads no AWS SDK at start: its static import graph has none', () => {
    const staticValueImports = (file: string) =>
      [...readFileSync(file, 'utf8').matchAll(/^import\s+(type\s+)?[^'"]*['"]([^'"]+)['"]/gm)]
        .filter((m) => !m[1])
        .map((m) => m[2]!);
    const seen = new Set<string>();
    const packages: string[] = [];
    const walk = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const spec of staticValueImports(file)) {
        if (spec.startsWith('.')) walk(path.join(path.dirname(file), spec).replace(/\.js$/, '.ts'));
        else packages.push(`${file} → ${spec}`);
      }
    };
    walk(path.join('bin', 'agentkeys.ts')); // commands are imported lazily, with import()
    walk(path.join('commands', 'verify-audit.ts'));
    expect(packages.filter((p) => /@aws-(sdk|crypto)\//.test(p))).toEqual([]);
  });

  it('src/audit is the chain format: it imports no store and no database code', () => {
    const bad = files(path.join('src', 'audit')).flatMap((f) =>
      imports(f)
        .filter((i) => /(^|\/)(store|db)\//.test(i.spec) || i.spec === 'pg')
        .map((i) => `${f} → ${i.spec}`),
    );
    expect(bad).toEqual([]);
  });

  it('no SQL outside src/store and src/db', () => {
    const sql =
      /\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+TABLE|\b(client|pool)\.query\()/;
    const outside = [...files('src'), ...files('commands'), ...files('bin')].filter(
      (f) => !f.startsWith(path.join('src', 'store')) && !f.startsWith(path.join('src', 'db')),
    );
    expect(outside.filter((f) => sql.test(readFileSync(f, 'utf8')))).toEqual([]);
  });

  it('one place tells a file log from a database: openStore', () => {
    const users = [...files('src'), ...files('commands')].filter((f) =>
      /\bisPostgresUrl\(/.test(readFileSync(f, 'utf8')),
    );
    expect(users.sort()).toEqual([
      path.join('commands', 'db-url.ts'),
      path.join('src', 'db', 'pg.ts'),
      path.join('src', 'store', 'store.ts'),
    ]);
  });

  it('one AWS call wrapper: only src/aws/call.ts classifies SDK errors or adds SDK middleware', () => {
    const bad = files(path.join('src', 'aws'))
      .filter((f) => !['call.ts', 'errors.ts'].includes(path.basename(f)))
      .filter((f) => /\bawsError\(|middlewareStack/.test(readFileSync(f, 'utf8')));
    expect(bad).toEqual([]);
  });

  it('one small adapter per AWS service: no module in src/aws builds clients of more than one SDK package (sandbox aside)', () => {
    const sdkPackages = (f: string) =>
      new Set(
        imports(f)
          .filter((i) => !i.typeOnly && i.spec.startsWith('@aws-sdk/client-'))
          .map((i) => i.spec.replace(/-(sesv2|ses)$/, '-ses*')),
      );
    const bad = files(path.join('src', 'aws')).filter(
      (f) => path.basename(f) !== 'sandbox-api.ts' && sdkPackages(f).size > 1,
    );
    expect(bad).toEqual([]);
  });

  it('nothing in src/ or commands/ changes process.env (the sandbox passes its own environment)', () => {
    const writes = /process\.env(\.\w+|\[[^\]]+\])\s*=(?!=)|delete\s+process\.env|Object\.assign\(\s*process\.env/;
    expect([...files('src'), ...files('commands')].filter((f) => writes.test(readFileSync(f, 'utf8')))).toEqual([]);
  });

  it('every line of src/, commands/ and bin/ is under 120 characters (prettier lays them out: npm run format)', () => {
    const long = [...files('src'), ...files('commands'), ...files('bin')].flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .flatMap((line, i) => (line.length > 120 ? [`${f}:${i + 1}`] : [])),
    );
    expect(long).toEqual([]);
  });

  it('plans execute: no setup step re-matches the display strings of its own plan', () => {
    const rematch = /changes\.(some|find|filter)\(\s*\(?c\)?\s*=>\s*c\.(resource|action|detail)/;
    expect(files(path.join('src', 'setup', 'steps')).filter((f) => rematch.test(readFileSync(f, 'utf8')))).toEqual([]);
  });

  it('no policy literals in code: IAM and S3 documents come from templates/iam (issue 12)', () => {
    const literal = /\bEffect['"]?\s*:\s*['"](Allow|Deny)['"]/;
    expect([...files('src'), ...files('commands')].filter((f) => literal.test(readFileSync(f, 'utf8')))).toEqual([]);
  });
});
