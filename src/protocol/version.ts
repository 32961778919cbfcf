/** Wire protocol version sent in `hello`; bumped on every incompatible change (protocol.md §1). */
// 2: TLS by default (§1.1), idle pings the client must answer (§3.4), register.invite.
export const PROTOCOL_VERSION = 2;

/** This software's version, as package.json says (a unit test keeps the two equal). */
export const SOFTWARE_VERSION = '0.1.0';
