// (b) peer: N async functions each awaiting a 10 s timer, print "ready",
// keep them parked for HOLD ms, exit. N = first argument (default 100,000),
// HOLD = second (default 3000).
'use strict';

const count = process.argv.length > 2 ? Number(process.argv[2]) : 100000;
const hold = process.argv.length > 3 ? Number(process.argv[3]) : 3000;

async function sleeper() {
  await new Promise((resolve) => setTimeout(resolve, 10000));
}

const handles = new Array(count);
for (let k = 0; k < count; k++) handles[k] = sleeper();
console.log('ready');
setTimeout(() => process.exit(0), hold);
