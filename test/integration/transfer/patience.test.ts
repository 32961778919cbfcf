// A receiver that confirmed a --verify code first waits for a sender that confirms late
// (issue 26): before its first connection it keeps retrying for patienceMs, whatever `retries`
// says, instead of giving up while the sender still holds its connections unanswered.
import { afterEach, describe, expect, it } from 'vitest';
import { Receiver } from '../../../src/transfer/receiver.js';
import { Sender } from '../../../src/transfer/sender.js';
import { newKeyPair } from '../../../src/transfer/keys.js';
import { newTransferSecret } from '../../../src/transfer/offer.js';
import { collectFiles, sha256File, scratchDirs, writeRandomFile } from '../../helpers/transfer-files.js';

const scratch = scratchDirs();
afterEach(() => scratch.removeAll());

/** A sender that has not accepted yet (still confirming), and a receiver with tight retries. */
async function confirmingPair(patienceMs: number) {
  const [src, dst] = [await scratch.dir(), await scratch.dir()];
  const files = await collectFiles([await writeRandomFile(src, 'late.bin', 50_000)]);
  const secret = newTransferSecret();
  const senderKeys = newKeyPair();
  const receiverKeys = newKeyPair();
  const sender = new Sender({ ...secret, files, host: '127.0.0.1', keys: senderKeys, via: ['direct'], handshakeTimeoutMs: 150 });
  const port = await sender.listen();
  const receiver = new Receiver({
    ...secret, candidates: [{ host: '127.0.0.1', port }], files: files.map(({ source: _s, ...f }) => f), dir: dst,
    keys: { own: receiverKeys, peer: senderKeys.publicKey }, via: ['direct'],
    retries: 1, retryDelayMs: 10, maxRetryDelayMs: 20, handshakeTimeoutMs: 150, patienceMs,
  });
  return { sender, receiver, files, accept: () => sender.accepted({ key: receiverKeys.publicKey }) };
}

describe('transfer: a receiver waiting for a sender that confirms late', () => {
  it('with patience, outlasts its retries and receives once the sender accepts', async () => {
    const { sender, receiver, files, accept } = await confirmingPair(60_000);
    let retries = 0;
    // The sender "confirms" only after the receiver has retried well past its budget of 1.
    receiver.on('retry', () => {
      if (++retries === 4) accept();
    });
    const [received] = await Promise.all([receiver.start(), sender.done]);
    expect(retries).toBeGreaterThanOrEqual(4);
    expect(received.files[0]!.sha256).toBe(await sha256File(files[0]!.source));
  });

  it('without patience, gives up after its retries while the sender still holds it', async () => {
    const { sender, receiver } = await confirmingPair(0);
    let retries = 0;
    receiver.on('retry', () => retries++);
    await expect(receiver.start()).rejects.toMatchObject({ code: expect.stringMatching(/^(timeout|unreachable|peer_gone)$/) });
    expect(retries).toBe(1);
    sender.close();
  });
});
