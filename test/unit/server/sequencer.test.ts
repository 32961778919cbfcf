// Sequencer: each conversation's messages from the bus are passed on in order, whatever order
// the nodes announced them in; nothing is dropped.
import { describe, expect, it } from 'vitest';
import { Sequencer } from '../../../src/server/delivery/sequencer.js';

const order = (prev: number, conversation = 'a b') => ({ conversation, prev });

function make(holdMs = 60_000) {
  const passed: number[] = [];
  const seq = new Sequencer<number>((id) => passed.push(id), { holdMs });
  return { passed, accept: (id: number, prev: number, conversation?: string) => seq.accept(id, id, order(prev, conversation)), seq };
}

describe('Sequencer', () => {
  it('holds a message until its predecessor has been passed on, then both and what waited on them', () => {
    const { passed, accept } = make();
    accept(3, 0);
    accept(9, 7); // 7 is still on its way
    accept(12, 9);
    expect(passed).toEqual([3]);
    accept(7, 3);
    expect(passed).toEqual([3, 7, 9, 12]);
  });

  it('keeps conversations apart, and passes on at once what has no order or is the first seen', () => {
    const { passed, accept, seq } = make();
    accept(10, 4, 'x y'); // first of its conversation seen here
    accept(11, 5, '#ops');
    seq.accept(99, 99); // no order: a node with one writer
    accept(12, 10, 'x y');
    expect(passed).toEqual([10, 11, 99, 12]);
  });

  it('passes on a late or repeated message instead of dropping it (the connection ignores repeats)', () => {
    const { passed, accept } = make();
    accept(5, 0);
    accept(8, 5);
    accept(5, 0);
    accept(6, 5); // its place was taken by 8 (a chain it cannot know): late, not held
    expect(passed).toEqual([5, 8, 5, 6]);
  });

  it('lets held messages go on, in id order, when the predecessor does not come in time', async () => {
    const { passed, accept } = make(20);
    accept(1, 0);
    accept(4, 3);
    accept(6, 4);
    accept(9, 8);
    await expect.poll(() => passed, { timeout: 2000, interval: 10 }).toEqual([1, 4, 6, 9]);
    accept(3, 1); // came after all: still passed on
    accept(10, 9); // and the chain goes on from the newest
    expect(passed).toEqual([1, 4, 6, 9, 3, 10]);
  });

  it('flush() passes on everything held', () => {
    const { passed, accept, seq } = make();
    accept(1, 0);
    accept(5, 2);
    seq.flush();
    expect(passed).toEqual([1, 5]);
  });
});
