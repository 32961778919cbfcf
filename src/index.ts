// The public API: the client library, the server factory, the storage and bus seams, error codes.
export { ChatClient, ClientError, dialServer, type ChatClientEvents, type ChatClientOptions, type ClientErrorCode, type ClientTlsOptions, type ServerCertificate } from './client/index.js';
export { createServer, ChatServer, type ServerContext } from './server/server.js';
export { DEFAULT_LIMITS, type ServerOptions, type ServerLimits } from './server/options.js';
export type { Store } from './store/store.js';
export { SqliteStore } from './store/sqlite.js';
export { PostgresStore, type PostgresStoreOptions } from './store/postgres.js';
export type { Bus, BusHandler, BusMessage, NodeInfo } from './bus/bus.js';
export { LocalBus } from './bus/local.js';
export { RedisBus, type RedisBusOptions } from './bus/redis.js';
export { ERROR_CODES, ProtocolError, type ErrorCode } from './protocol/errors.js';
export { PROTOCOL_VERSION } from './protocol/version.js';
export type * from './protocol/messages.js';
