// --via: which paths a transfer may use (protocol.md §T8). "auto" races all four.
import { ALL_PATHS, type Via } from '../transfer/index.js';
import { CliError } from './context.js';

export const VIA_OPTION = {
  type: 'string',
  default: 'auto',
  describe: 'force a path: direct, reverse, punch or relay (auto: race them)',
} as const;

export function parseVia(raw: unknown): Via[] {
  const text = String(raw ?? 'auto');
  if (text === 'auto') return [...ALL_PATHS];
  if ((ALL_PATHS as string[]).includes(text)) return [text as Via];
  throw new CliError(`bad --via "${text}": use auto, direct, reverse, punch or relay`, 2);
}
