// DirectLeg: the receiver's relay leg reads into the Wire's frame buffers from its first byte
// (src/transfer/direct-leg.ts). A real TCP server on 127.0.0.1 plays the relay.
import net, { type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DirectLeg } from '../../../src/transfer/direct-leg.js';
import type { ControlMessage } from '../../../src/transfer/messages.js';

const frame = (payload: Buffer): Buffer => {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(payload.length, 0);
  return Buffer.concat([header, payload]);
};
const json = (value: object): Buffer => frame(Buffer.from(JSON.stringify(value)));
const control = (value: object): Buffer => frame(Buffer.concat([Buffer.from([0x01]), Buffer.from(JSON.stringify(value))]));
const HELLO = { type: 'hello', v: 5, nonce: 'ab'.repeat(32) };

const servers: Server[] = [];
afterEach(() => servers.splice(0).forEach((s) => s.close()));

/** A relay on 127.0.0.1 that runs `script` on each connection. */
async function relay(script: (socket: Socket) => void): Promise<{ host: string; port: number }> {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    script(socket);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { host: '127.0.0.1', port: (server.address() as net.AddressInfo).port };
}

/** Answers each request frame with the next of `replies` (written at once, with `extra` after the last). */
function answers(replies: Buffer[], extra?: Buffer): (socket: Socket) => void {
  return (socket) => {
    let asked = 0;
    socket.on('data', () => {
      const reply = replies[asked++];
      if (!reply) return;
      socket.write(asked === replies.length && extra ? Buffer.concat([reply, extra]) : reply);
    });
  };
}

const opts = { timeoutMs: 5000 };

describe('DirectLeg', () => {
  it('reads the relay replies, then hands the same reader to a Wire that gets the peer frames', async () => {
    const target = await relay((socket) => {
      let step = 0;
      socket.on('data', () => {
        step++;
        if (step === 1) socket.write(json({ type: 'challenge', nonce: 'cd'.repeat(32) }));
        // ok, then the start of the peer's first frame in the same write: it stays in the reader.
        if (step === 2) socket.write(Buffer.concat([json({ type: 'ok' }), control(HELLO).subarray(0, 3)]));
        if (step === 3) socket.write(control(HELLO).subarray(3));
      });
    });
    const leg = await DirectLeg.open(target, 5000);
    expect(await leg.ask({ type: 'relay' }, 'the relay', opts)).toMatchObject({ type: 'challenge' });
    expect(await leg.ask({ type: 'proof' }, 'the relay', opts)).toEqual({ type: 'ok' });
    const wire = leg.wire();
    const got = new Promise<ControlMessage>((resolve, reject) => (wire.handlers = { control: resolve, data: () => {}, close: reject }));
    wire.write(control({ type: 'hello', v: 5, nonce: 'ef'.repeat(32) }));
    expect(await got).toMatchObject(HELLO);
    wire.destroy();
  });

  it('hands the Wire, in order, the peer frames that came in the same read as the ok', async () => {
    const second = { type: 'hello', v: 4, nonce: 'cd'.repeat(32) };
    const target = await relay(answers([json({ type: 'ok' })], Buffer.concat([control(HELLO), control(second)])));
    const leg = await DirectLeg.open(target, 5000);
    expect(await leg.ask({ type: 'relay' }, 'the relay', opts)).toEqual({ type: 'ok' });
    const wire = leg.wire();
    await Promise.resolve(); // the owner installs its handlers a few turns later, as paths.ts does
    const got: ControlMessage[] = [];
    await new Promise<void>((resolve, reject) => {
      wire.handlers = { control: (m) => got.push(m) === 2 && resolve(), data: () => {}, close: reject };
    });
    expect(got).toMatchObject([HELLO, second]);
    wire.destroy();
  });

  it.each([
    ['a close before the reply', (socket: Socket) => socket.on('data', () => socket.end()), /the relay closed the connection/],
    ['a reply that is not JSON', answers([frame(Buffer.from('nope'))]), /the relay sent a malformed reply/],
    ['a reply frame over 64 KiB', answers([Buffer.from([0, 2, 0, 0])]), /frame/],
  ] as const)('rejects %s, and destroys the socket', async (_, script, message) => {
    const leg = await DirectLeg.open(await relay(script), 5000);
    await expect(leg.ask({ type: 'relay' }, 'the relay', opts)).rejects.toThrow(message);
    expect(leg.socket.destroyed).toBe(true);
  });

  it('times out a relay that answers nothing, and is aborted by the signal', async () => {
    const silent = await relay(() => {});
    const leg = await DirectLeg.open(silent, 5000);
    await expect(leg.ask({ type: 'relay' }, 'the relay', { timeoutMs: 50 })).rejects.toMatchObject({ code: 'timeout' });
    const abort = new AbortController();
    const other = await DirectLeg.open(silent, 5000);
    const asked = other.ask({ type: 'relay' }, 'the relay', { timeoutMs: 5000, signal: abort.signal });
    abort.abort();
    await expect(asked).rejects.toMatchObject({ code: 'aborted' });
  });

  it('says which relay it cannot reach', async () => {
    const closed = await relay(() => {});
    servers[0]!.close();
    await new Promise((resolve) => servers[0]!.once('close', resolve));
    await expect(DirectLeg.open(closed, 5000)).rejects.toMatchObject({ code: 'unreachable', message: expect.stringContaining(`127.0.0.1:${closed.port}`) });
  });
});
