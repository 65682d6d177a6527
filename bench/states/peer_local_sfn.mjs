// bench/states/peer_local_sfn.mjs: the peer for figure (a). Runs a definition with the npm
// package aws-local-stepfunctions (an ASL interpreter in JavaScript), in process, in node, on
// the same input as states_bench: executions/s one at a time, then with CONC in flight.
//
//   node peer_local_sfn.mjs DEFINITION INPUT [SECONDS] [CONC]
//
// Prints the output of one execution (`OUTPUT {...}`, so the run script can check both engines
// compute the same thing) and one machine-readable line per figure:
//   RESULT engine=aws-local-stepfunctions version=V conc=N ok=N errors=N secs=S exec_s=X
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { StateMachine } from 'aws-local-stepfunctions';

const [defPath, inputPath, secsArg, concArg] = process.argv.slice(2);
if (!defPath || !inputPath) {
  console.error('usage: node peer_local_sfn.mjs DEFINITION INPUT [SECONDS] [CONC]');
  process.exit(2);
}
const secs = Number(secsArg ?? 3);
const conc = Number(concArg ?? 16);
const definition = JSON.parse(readFileSync(defPath, 'utf8'));
const input = JSON.parse(readFileSync(inputPath, 'utf8'));
// The package's exports map hides its package.json: read it beside the resolved entry point.
const require = createRequire(import.meta.url);
const pkgDir = dirname(dirname(require.resolve('aws-local-stepfunctions')));
const version = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')).version;

// Built once, as a long-lived service would: construction validates the definition.
const machine = new StateMachine(definition);

async function once() {
  const execution = machine.run(input);
  return execution.result;
}

// A closed loop with `inflight` executions outstanding until `seconds` have passed.
async function measure(inflight, seconds) {
  let ok = 0;
  let errors = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  let last = t0;
  async function lane() {
    while (performance.now() < deadline) {
      try {
        await once();
        ok++;
      } catch (e) {
        if (errors++ < 3) console.error('error:', e?.message ?? e);
      }
      last = performance.now();
    }
  }
  await Promise.all(Array.from({ length: inflight }, lane));
  const s = (last - t0) / 1000;
  return { ok, errors, s };
}

console.log('OUTPUT ' + JSON.stringify(await once()));
await measure(1, Math.min(1, secs / 3)); // warm-up: let the JIT settle
for (const c of [1, conc]) {
  const r = await measure(c, secs);
  console.log(
    `RESULT engine=aws-local-stepfunctions version=${version} conc=${c} ok=${r.ok} ` +
      `errors=${r.errors} secs=${r.s.toFixed(3)} exec_s=${(r.ok / r.s).toFixed(1)}`,
  );
}
