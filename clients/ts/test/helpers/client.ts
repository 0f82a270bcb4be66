// Client-side helpers shared by the tests: opening a client and catching the ArtregError a call
// rejects with.
import assert from "node:assert/strict";

import { ArtregError, connect, type ArtregClient, type ConnectOptions } from "@artreg/client";

/** A client whose connection is open. */
export async function opened(options: ConnectOptions): Promise<ArtregClient> {
  const c = connect(options);
  await c.open();
  return c;
}

/** The ArtregError `promise` rejects with; fails if it resolves or rejects with anything else. */
export async function rejection(promise: Promise<unknown>): Promise<ArtregError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ArtregError, `expected an ArtregError, got ${String(err)}`);
    return err;
  }
  assert.fail("expected the promise to reject");
}
