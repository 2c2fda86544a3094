// (a) peer: call N trivial async functions, Promise.all them, print the sum.
// N = first argument, default 1,000,000.
'use strict';

async function job(k) {
  return k;
}

const count = process.argv.length > 2 ? Number(process.argv[2]) : 1000000;
const promises = new Array(count);
for (let k = 0; k < count; k++) promises[k] = job(k);
Promise.all(promises).then((results) => {
  let sum = 0;
  for (const r of results) sum += r;
  console.log(sum);
});
