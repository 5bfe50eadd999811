import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';

const example = readFileSync(new URL('../../../dsr-cdc.example.yaml', import.meta.url), 'utf8');
/** The example with its commented-out admin and runtime sections switched on. */
const uncommented = example
  .split('\n')
  .map((line) =>
    line
      .replace(/^# (admin|runtime):/, '$1:')
      .replace(/^# {3}(listen|token|bodyLimit|shutdownTimeoutMs|breaker)/, '  $1'),
  )
  .join('\n');

const load = (text: string, env: Record<string, string>) =>
  loadConfig({ path: 'dsr-cdc.yaml', env: { DSR_CDC_PG_PASSWORD: 'pw', ...env }, readFile: () => text });

describe('admin and runtime sections', () => {
  it("match the example file's commented-out sections once uncommented", () => {
    const config = load(uncommented, { DSR_CDC_ADMIN_TOKEN: 'x'.repeat(32) });
    expect(config.admin).toMatchObject({ listen: { host: '127.0.0.1', port: 9464 }, bodyLimit: 65536 });
    expect(config.admin?.token.reveal()).toBe('x'.repeat(32));
    expect(config.runtime).toEqual({
      shutdownTimeoutMs: 30_000,
      breaker: { consecutiveFailures: 5, halfOpenAfterMs: 10_000 },
    });
  });

  it('are optional: no admin API, default shutdown bound and breakers', () => {
    const config = load(example, {});
    expect(config.admin).toBeUndefined();
    expect(config.runtime.shutdownTimeoutMs).toBe(30_000);
  });

  it('refuse a plaintext or short token, naming admin.token without echoing it', () => {
    const plaintext = uncommented.replace('${env:DSR_CDC_ADMIN_TOKEN}', 'my-plaintext-token-value-123456');
    expect(() => load(plaintext, {})).toThrow(expect.objectContaining({ field: 'admin.token' }));
    try {
      load(plaintext, {});
    } catch (error) {
      expect((error as Error).message).not.toContain('my-plaintext-token-value');
    }
    expect(() => load(uncommented, { DSR_CDC_ADMIN_TOKEN: 'short' })).toThrow(
      expect.objectContaining({
        field: 'admin.token',
        message: expect.stringContaining('at least 24 bytes'),
      }),
    );
  });
});
