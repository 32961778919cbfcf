// Ctrl-C (SIGINT) and SIGTERM as a promise, so a command can cancel cleanly (withdraw an offer,
// tell the peer). A second Ctrl-C exits at once.
export interface Interrupt {
  readonly promise: Promise<void>;
  readonly fired: boolean;
  dispose(): void;
}

export function interrupted(): Interrupt {
  let fired = false;
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  const onSignal = (): void => {
    if (fired) process.exit(130);
    fired = true;
    resolve();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    promise,
    get fired() {
      return fired;
    },
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
