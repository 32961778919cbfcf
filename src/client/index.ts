export { ChatClient, type ChatClientEvents, type ChatClientOptions, type HelloResult } from './client.js';
export { ClientError, type ClientErrorCode } from './errors.js';
export { dialServer, sameFingerprint, type ClientTlsOptions, type DialOptions, type ServerCertificate } from './dial.js';
