// "host:port" as people and the protocol write it: an IPv6 address in brackets ("[::1]:7070").
// The one formatter and parser for every layer.

/** `host:port`, or `[host]:port` for an IPv6 address. */
export function hostPort(host: string, port: number | string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** "host:port", "[v6]:port" or "host" (then `defaultPort`); undefined if it is none of those. */
export function parseHostPort(text: string, defaultPort: number): { host: string; port: number } | undefined {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:]+)(?::(\d+))?$/.exec(text);
  const port = m?.[2] === undefined ? defaultPort : Number(m[2]);
  if (!m || !m[1] || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host: m[1], port };
}
