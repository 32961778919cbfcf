/** Wire protocol version sent in `hello`; bumped on every incompatible change (protocol.md §1). */
export const PROTOCOL_VERSION = 1;
