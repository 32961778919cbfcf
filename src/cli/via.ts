// --via: which paths a transfer may use (protocol.md §T8). "auto" races all three.
import type { Via } from '../transfer/index.js';
import { CliError } from './context.js';

export const VIA_OPTION = {
  type: 'string',
  default: 'auto',
  describe: 'force a path: direct, reverse or relay (auto: race them)',
} as const;

export function parseVia(raw: unknown): Via[] {
  const text = String(raw ?? 'auto');
  if (text === 'auto') return ['direct', 'reverse', 'relay'];
  if (text === 'direct' || text === 'reverse' || text === 'relay') return [text];
  throw new CliError(`bad --via "${text}": use auto, direct, reverse or relay`, 2);
}
