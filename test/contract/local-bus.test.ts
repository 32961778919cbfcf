// LocalBus: the Bus contract suite. One LocalBus plays both nodes (as servers sharing it in one
// process do); a node leaves with leave(node). It has no heartbeat, so nothing to kill.
import { LocalBus } from '../../src/bus/local.js';
import { busContract } from './bus.contract.js';

busContract('LocalBus', async () => {
  const errors: Error[] = [];
  const bus = new LocalBus({ onError: (err) => errors.push(err) });
  return {
    buses: [bus, bus],
    errors,
    nodeDownMs: 1000,
    leave: (_bus, node) => bus.leave(node),
    cleanup: () => bus.close(),
  };
});
