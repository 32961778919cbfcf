// Regression: on Node 20, generateKeyPairSync('x25519') followed by a JWK export of the public
// key hangs the process for good once a GC runs inside the export (the key generation job's
// finalizer takes the mutex the export holds). A loop of 20,000 such pairs hung every time here;
// newKeyPair() must not. Runs the built module in a child process, bounded.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const keys = fileURLToPath(new URL('../../../dist/transfer/keys.js', import.meta.url));
const PAIRS = 20_000;

it(`newKeyPair() never hangs: ${PAIRS} key pairs in a child process`, async () => {
  const script = `const { newKeyPair } = await import(${JSON.stringify(keys)});
    let kept = [];
    for (let i = 0; i < ${PAIRS}; i++) { kept.push(newKeyPair().publicKey); if (kept.length > 100) kept = []; }
    console.log('made ${PAIRS}');`;
  const child = spawn(process.execPath, ['--semi-space-growth-factor=1', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 50_000);
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
  clearTimeout(timer);
  expect({ code, signal, out: out.trim() }).toEqual({ code: 0, signal: null, out: `made ${PAIRS}` });
}, 60_000);
