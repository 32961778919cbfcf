// LocalBus: the Bus contract suite. One LocalBus plays both nodes (as servers sharing it in one
// process do); a node leaves with leave(node). It has no heartbeat, so nothing to kill.
import { LocalBus } from '../../src/bus/local.js';
import { busContract } from './bus.contract.js';

busContract('LocalBus', async () => {
  const bus = new LocalBus();
  return {
    buses: [bus, bus],
    nodeDownMs: 1000,
    leave: (_bus, node) => bus.leave(node),
    cleanup: () => bus.close(),
  };
});
