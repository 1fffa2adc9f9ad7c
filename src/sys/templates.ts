// The documents agentkeys writes (IAM and S3 policies, host configuration) live as files in the
// package's templates/ folder with {{name}} placeholders, so an operator can read every policy
// without reading code. Rendering is strict both ways: a placeholder without a value and a value
// that is not a plain string are bugs, raised before anything reaches AWS.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { InternalError } from '../errors.js';
import { packageRoot } from './fs.js';

export type TemplateVars = Readonly<Record<string, string>>;

const PLACEHOLDER = /\{\{([A-Za-z][A-Za-z0-9]*)\}\}/g;
const cache = new Map<string, string>();

export function templatesDir(): string {
  return path.join(packageRoot(import.meta.url), 'templates');
}

/** A template's text, read once per process (they are small and read on every plan). */
export function templateText(name: string): string {
  let text = cache.get(name);
  if (text === undefined) {
    try {
      text = readFileSync(path.join(templatesDir(), name), 'utf8');
    } catch (cause) {
      throw new InternalError({ code: 'TEMPLATE_NOT_FOUND', message: `template ${name} is not installed`, cause });
    }
    cache.set(name, text);
  }
  return text;
}

/** Every {{name}} the template uses, for the tests that render each template with each value. */
export function placeholdersOf(name: string): string[] {
  return [...new Set([...templateText(name).matchAll(PLACEHOLDER)].map((m) => m[1]!))];
}

export function fill(template: string, vars: TemplateVars, name: string): string {
  return template.replace(PLACEHOLDER, (_, key: string) => {
    const value = vars[key];
    if (typeof value !== 'string')
      throw new InternalError({
        code: 'TEMPLATE_VARIABLE_MISSING',
        message: `template ${name} needs {{${key}}}, which was not given`,
      });
    return value;
  });
}

/** A text template (a config file): placeholders replaced verbatim. */
export function renderText(name: string, vars: TemplateVars): string {
  return fill(templateText(name), vars, name);
}

/**
 * A JSON template: parsed first, then placeholders filled inside every key and string value, so a
 * value can never break out of its string (no escaping to get wrong).
 */
export function renderJson<T>(name: string, vars: TemplateVars): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return fill(v, vars, name);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [fill(k, vars, name), walk(x)]));
    return v;
  };
  return walk(JSON.parse(templateText(name))) as T;
}
