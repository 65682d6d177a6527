// node_tap: what the JavaScript test files share (not a test itself: tests/integration/run runs
// only test_* files). A registry of named tests, the loop that runs them and prints one TAP line
// each for tests/integration/run, and the SDK-error assertion.
import assert from "node:assert/strict";

export function registry() {
  const tests = [];
  return { tests, test: (name, fn) => tests.push({ name, fn }) };
}

// The SDK call must fail with this error name and HTTP status; returns the error.
export async function expectError(promise, name, status) {
  try {
    await promise;
  } catch (e) {
    assert.equal(e.name, name, `error name (${e.message})`);
    assert.equal(e.$metadata?.httpStatusCode, status, "HTTP status");
    return e;
  }
  assert.fail(`expected ${name} (${status}), the call succeeded`);
}

// Runs the tests whose name contains SLUICE_TEST_FILTER, one "ok - NAME" / "not ok - NAME" line
// each (a failure's stack as comments). banner: the first comment line (client version...).
// alive(): whether the endpoint still answers, checked after each test (a crash stops the run).
// Returns the exit code: 1 when a test failed or AWS_ENDPOINT_URL is not set.
export async function runTests(tests, { banner, alive } = {}) {
  if (!process.env.AWS_ENDPOINT_URL) {
    console.log("not ok - node: AWS_ENDPOINT_URL is not set (tests/integration/run sets it)");
    return 1;
  }
  const filter = process.env.SLUICE_TEST_FILTER || "";
  if (banner) console.log(`# ${banner}`);
  let failed = 0;
  for (const t of tests) {
    if (filter && !t.name.includes(filter)) continue;
    const t0 = Date.now();
    try {
      await t.fn();
      console.log(`ok - ${t.name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    } catch (e) {
      failed++;
      console.log(`not ok - ${t.name}`);
      for (const line of String(e && e.stack ? e.stack : e).split("\n").slice(0, 25)) console.log(`#   ${line}`);
    }
    if (alive && !(await alive())) {
      console.log(`not ok - ${t.name}: the endpoint stopped answering after this test`);
      return 1;
    }
  }
  return failed ? 1 : 0;
}
