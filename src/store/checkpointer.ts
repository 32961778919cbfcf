// Checkpoints of the SQLite WAL in a worker thread: copying the WAL into the database and its
// fsyncs then never stall the event loop that serves clients (the main connection runs with
// wal_autocheckpoint = 0). PASSIVE: never blocks the writer; what it could not copy waits for the next.
// It cannot let the WAL start over while messages keep coming (the writer thread's own
// checkpoints do that, sqlite-writer.ts), but by copying frames every 100 ms beside the writer
// it leaves those little to copy: at 1000 clients and 20k msgs/s, p99 216-361 ms with a 1 s
// interval (the writer's commit copied ~64 MB), 54 ms with 100 ms.
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 1000');
const timer = setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch (err) { parentPort.postMessage(String(err && err.message)); }
}, workerData.intervalMs);
parentPort.on('message', () => { clearInterval(timer); db.close(); process.exit(0); });
`;

export class Checkpointer {
  readonly #worker: Worker;
  #stopped: Promise<void> | undefined;
  /** Set once the worker ended, e.g. when it could not open the database (its directory was removed). */
  #exited = false;

  constructor(file: string, driver: string, intervalMs = 100, onError: (message: string) => void = () => {}) {
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, driver, intervalMs } });
    this.#worker.unref(); // never keeps a process alive
    this.#worker.on('message', (m: string) => onError(`WAL checkpoint: ${m}`));
    this.#worker.on('error', (err) => onError(`WAL checkpointer stopped: ${err.message}`));
    this.#worker.once('exit', () => (this.#exited = true));
  }

  /** Stops the worker (idempotent). */
  stop(): Promise<void> {
    return (this.#stopped ??= new Promise<void>((resolve) => {
      if (this.#exited) return resolve(); // an 'exit' that already happened would never come again
      this.#worker.ref(); // whoever awaits this must not see the process exit first
      this.#worker.once('exit', () => resolve());
      this.#worker.postMessage('stop');
    }));
  }
}
