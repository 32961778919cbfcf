export { ChatClient, type ChatClientEvents, type ChatClientOptions, type HelloResult } from './client.js';
export { ClientError, type ClientErrorCode } from './errors.js';
