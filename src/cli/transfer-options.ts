// The transfer options that chat send-file, chat accept and the interactive /send and /accept
// share: one table of yargs specs, one validation, one parser for the interactive line.
import type { TransferSettings } from '../client/transfer-session.js';
import { CliError } from './context.js';
import { parseRate } from './units.js';
import { VIA_OPTION, parseVia } from './via.js';

type Argvs = Record<string, unknown>;

/** What the shared options become: the session's settings, plus the code a script gives. */
export interface CliTransferSettings extends TransferSettings {
  /** The code the other side shows (--verify-code, for scripts). */
  verifyCode?: string;
}

export const TRANSFER_OPTIONS = {
  parallel: { type: 'number', default: 4, describe: 'files streamed at once' },
  'limit-rate': { type: 'string', default: '0', describe: 'bandwidth cap in bytes/s, e.g. 500K or 10M (0: none)' },
  via: VIA_OPTION,
  verify: { type: 'boolean', default: false, describe: 'compare a code with the other side before any data flows (not needed with a contact verified by chat verify)' },
  'verify-code': { type: 'string', describe: 'the code the other side shows (for scripts; implies --verify; a mismatch aborts)' },
  'insecure-peer': { type: 'boolean', default: false, describe: 'accept a peer that does not sign or encrypt (an older chat): not authenticated' },
} as const;

/** Validates the shared options (as yargs or the interactive parser gives them). */
export function transferSettings(argv: Argvs, network: { bind?: string; advertise: string[]; advertiseOnly: boolean }): CliTransferSettings {
  const parallel = Number(argv.parallel ?? 4);
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 64) throw new CliError('--parallel must be 1-64', 2);
  const verifyCode = argv.verifyCode === undefined ? undefined : String(argv.verifyCode);
  return {
    parallel,
    limitRate: parseRate(String(argv.limitRate ?? '0'), '--limit-rate'),
    via: parseVia(argv.via),
    verify: Boolean(argv.verify) || verifyCode !== undefined,
    verifyCode,
    insecurePeer: Boolean(argv.insecurePeer),
    ...network,
  };
}

const FLAGS: Record<string, 'boolean' | 'value'> = {
  verify: 'boolean', 'insecure-peer': 'boolean', 'follow-symlinks': 'boolean', 'force-copy': 'boolean',
  'verify-code': 'value', via: 'value', 'limit-rate': 'value', parallel: 'value',
};

const camel = (flag: string): string => flag.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());

/**
 * The interactive client's `/send --via relay --verify a b`: the options (camelCase, as yargs
 * gives them) and the other words. `--` ends the options; `--flag=value` works too.
 */
export function parseTransferFlags(words: string[], allowed: readonly string[]): { options: Argvs; rest: string[] } {
  const options: Argvs = {};
  const rest: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (word === '--') {
      rest.push(...words.slice(i + 1));
      break;
    }
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(word);
    if (!m) {
      rest.push(word);
      continue;
    }
    const [, flag, inline] = m as unknown as [string, string, string | undefined];
    if (!allowed.includes(flag) || !FLAGS[flag]) throw new CliError(`unknown option --${flag} (here: ${allowed.map((f) => `--${f}`).join(', ')})`);
    if (FLAGS[flag] === 'boolean') options[camel(flag)] = inline === undefined ? true : inline !== 'false';
    else {
      const value = inline ?? words[++i];
      if (value === undefined) throw new CliError(`--${flag} needs a value`);
      options[camel(flag)] = value;
    }
  }
  return { options, rest };
}
