// The software version lives in package.json and SOFTWARE_VERSION; they must not drift apart.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SOFTWARE_VERSION } from '../../../src/protocol/version.js';

describe('SOFTWARE_VERSION', () => {
  it('is the version in package.json (chat --version, hello.server and hello.client say it)', () => {
    const pkg = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../../package.json'), 'utf8')) as { version: string };
    expect(SOFTWARE_VERSION).toBe(pkg.version);
  });
});
