import { hostname } from 'node:os';
import { sendAlert } from '../src/alert/send.js';
import { parseAlertTarget } from '../src/alert/target.js';
import { UsageError, type ExitCode } from '../src/errors.js';
import { journalTail } from '../src/sys/journal.js';
import { createContext, type GlobalOptions } from './context.js';
import { printJson, printLine } from './ui/format.js';

export interface AlertOptions extends GlobalOptions {
  unit?: string;
  target?: string;
  message?: string;
}

/**
 * `agentkeys alert --unit U --target T`: what agentkeys-alert@ runs when a watch fails. The unit's
 * last journal lines go to the target (SNS, a webhook) and to stdout, so the journal has them too.
 */
export async function runAlert(options: AlertOptions): Promise<ExitCode> {
  if (!options.unit)
    throw new UsageError({
      code: 'FLAG_MISSING',
      message: '--unit is required: the unit that failed',
      hint: 'agentkeys alert --unit agentkeys-watch-verify.service --target journal',
    });
  const ctx = await createContext({ ...options });
  // From ALERT_TARGET (the unit's EnvironmentFile, 0600) rather than the command line, where
  // another user on the host could read a webhook's token.
  const target = parseAlertTarget(ctx.config.alertTarget ?? 'journal', options.target ? '--target' : 'ALERT_TARGET');
  const alert = {
    unit: options.unit,
    host: hostname(),
    text: options.message ?? journalTail(options.unit),
    at: new Date(),
  };
  const delivery = await sendAlert(target, alert, {
    // The topic's own region (from its ARN), whatever the settings say.
    publish: async (arn, subject, message) =>
      (await ctx.services.sns(arn.split(':')[3]!)).publish(arn, subject, message),
  });
  if (ctx.out.json) printJson({ ok: true, unit: alert.unit, host: alert.host, ...delivery });
  else {
    printLine(`alert: ${alert.unit} failed on ${alert.host}`);
    printLine(alert.text);
    printLine(`sent to ${delivery.target}${delivery.receipt ? ` (${delivery.receipt})` : ''}`);
  }
  return 0;
}
