import { describe, expect, it } from 'vitest';
import { hostPort, parseHostPort } from '../../../src/protocol/address.js';

describe('host:port', () => {
  it.each([
    ['example.org', 7070, 'example.org:7070'],
    ['127.0.0.1', 1, '127.0.0.1:1'],
    ['::1', 443, '[::1]:443'],
    ['2001:db8::2', 65535, '[2001:db8::2]:65535'],
  ])('%s and %i read as %s, and parse back', (host, port, text) => {
    expect(hostPort(host, port)).toBe(text);
    expect(parseHostPort(text, 9)).toEqual({ host, port });
  });

  it('takes the default port for a bare host, and refuses what is not host:port', () => {
    expect(parseHostPort('chat.example', 7070)).toEqual({ host: 'chat.example', port: 7070 });
    expect(parseHostPort('[::1]', 7070)).toEqual({ host: '::1', port: 7070 });
    for (const bad of ['', ':80', 'a:b', 'host:0', 'host:65536', '::1:80', '[::1]x']) expect(parseHostPort(bad, 7070)).toBeUndefined();
  });
});
