import { describe, expect, it } from 'vitest';
import { parseEnvFile } from '../../../src/config/env-file.js';

function codeAndDetails(fn: () => unknown): { code?: string; details?: string[] } {
  try {
    fn();
  } catch (err) {
    return err as { code: string; details: string[] };
  }
  return {};
}

describe('env file parser', () => {
  it('reads assignments, comments, quotes and expansions', () => {
    const env = parseEnvFile(
      [
        '# operator workstation',
        'export REGION=eu-west-1',
        'DOMAIN="mail.example.com"  # trailing comment',
        "LITERAL='$NOT_EXPANDED'",
        'ZONE=${DOMAIN#*.}',
        'ROLE=arn:aws:iam::1:instance-profile/path/name',
        'NAME=${ROLE##*/}',
        'BASE=${DOMAIN%.*}',
        'BASE2=${DOMAIN%%.*}',
        'URL=https://$DOMAIN/x',
        'DEF=${UNSET:-fallback}',
        'FROM_BASE=${HOME_DIR}',
        'EMPTY=',
      ].join('\n'),
      'f',
      { HOME_DIR: '/home/op' },
    );
    expect(env).toEqual({
      REGION: 'eu-west-1',
      DOMAIN: 'mail.example.com',
      LITERAL: '$NOT_EXPANDED',
      ZONE: 'example.com',
      ROLE: 'arn:aws:iam::1:instance-profile/path/name',
      NAME: 'name',
      BASE: 'mail.example',
      BASE2: 'mail',
      URL: 'https://mail.example.com/x',
      DEF: 'fallback',
      FROM_BASE: '/home/op',
      EMPTY: '',
    });
  });

  it('never executes anything and lists every bad line', () => {
    const err = codeAndDetails(() =>
      parseEnvFile(
        [
          'A=$(rm -rf /)',
          'B=`id`',
          'C=x; echo hi',
          'not an assignment',
          'D=${UNDEFINED}',
          'E=${A/x/y}',
          'F="open',
        ].join('\n'),
        'f',
      ),
    );
    expect(err.code).toBe('ENV_FILE_INVALID');
    expect(err.details).toHaveLength(7);
    expect(err.details![0]).toMatch(/^line 1: command substitution/);
  });
});
