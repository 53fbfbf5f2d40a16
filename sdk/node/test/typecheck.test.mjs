// The .d.ts files work for TypeScript users: test/typecheck/consumer.ts (the guide's snippet and
// typed uses of the API) compiles with tsc against the package installed from its tarball.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));

test('a TypeScript consumer type-checks against the published types', async () => {
  const tsc = process.env.EMBAN_TSC;
  assert.ok(tsc, 'EMBAN_TSC must name typescript/bin/tsc (scripts/test-sdk.sh sets it)');
  const run = await promisify(execFile)(process.execPath, [tsc, '-p', join(here, 'typecheck/tsconfig.json')]).catch((e) => e);
  assert.equal(run.code ?? 0, 0, `${run.stdout ?? ''}${run.stderr ?? ''}`);
});
