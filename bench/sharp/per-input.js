// per-input.js: sharp's CPU time per input file, for bench/per-input.sh (the same operation as
// imgpipe-bench --inprocess --per-input, side by side). For each regular file of the corpus (sorted
// by name, dot files and empty files skipped, as imgpipe-bench reads a corpus): one warm-up, then N
// runs, each timed by process.cpuUsage() (user + system, every thread of the process) around the
// whole decode + process + encode to a buffer, done as bench/sharp/server.js does it (plan.js),
// with sharp.concurrency(1) and sharp.cache(false).
// Output TSV, one line per file: file cpu_ms_min cpu_ms_median out_bytes error; a file sharp cannot
// read (e.g. HEIC: sharp's prebuilt libvips has no HEVC decoder) gets `fails - -` and the error.
// Usage: node bench/sharp/per-input.js --corpus DIR --do 'OP?QUERY' [--runs 3] --out FILE.tsv
// Env: SHARP_MODULES, the node_modules folder to load sharp from (default: next to this script).
// Exit status: 0 written, 1 could not run, 2 bad usage or sharp not installed.
'use strict';
const fs = require('fs');
const path = require('path');
const { plan, render } = require('./plan');

function usage(msg) {
  if (msg) console.error(`per-input.js: ${msg}`);
  console.error("usage: node per-input.js --corpus DIR --do 'OP?QUERY' [--runs N] --out FILE.tsv");
  process.exit(2);
}

const args = { runs: 3 };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const v = process.argv[i + 1];
  if (a === '-h' || a === '--help') usage();
  if (!['--corpus', '--do', '--runs', '--out'].includes(a)) usage(`unknown argument ${a}`);
  if (v === undefined) usage(`${a} needs a value`);
  args[a.slice(2)] = v;
  i++;
}
if (!args.corpus || !args.do || !args.out) usage('--corpus, --do and --out are required');
const runs = Number(args.runs);
if (!Number.isInteger(runs) || runs < 1 || runs > 10000) usage('--runs must be an integer 1..10000');

const spec = args.do.replace(/^\/+/, '');
const qmark = spec.indexOf('?');
const op = qmark < 0 ? spec : spec.slice(0, qmark);
const q = new URLSearchParams(qmark < 0 ? '' : spec.slice(qmark + 1));
let resize;
try {
  resize = plan(op, q);
} catch (e) {
  usage(`--do ${args.do}: ${e.message}`);
}
if (!resize) usage(`--do ${args.do}: no operation ${op} (fit, resize, thumbnail, crop, transform)`);

let sharp;
try {
  sharp = require(path.join(process.env.SHARP_MODULES || path.join(__dirname, 'node_modules'), 'sharp'));
} catch (e) {
  console.error(`per-input.js: sharp is not installed (${e.message.split('\n')[0]}): run bench/sharp/setup.sh`);
  process.exit(2);
}
sharp.cache(false); // like imgpipe (vips_cache_set_max(0)) and server.js: every run does the full work
sharp.concurrency(1); // one libvips thread, as imgpipe-bench --threads 1 --vips-threads 1

function files(dir) {
  let names;
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    console.error(`per-input.js: cannot read --corpus ${dir}: ${e.message}`);
    process.exit(1);
  }
  return names
    .filter((n) => !n.startsWith('.'))
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))) // strcmp order, as imgpipe-bench
    .filter((n) => {
      const st = fs.statSync(path.join(dir, n));
      return st.isFile() && st.size > 0;
    });
}

function cpuMs(u) {
  return (u.user + u.system) / 1000;
}

async function one(body) {
  const t0 = process.cpuUsage();
  const [out] = await render(sharp, body, resize, q);
  return { ms: cpuMs(process.cpuUsage(t0)), bytes: out.length };
}

async function main() {
  const names = files(args.corpus);
  if (!names.length) {
    console.error(`per-input.js: no files in ${args.corpus}`);
    process.exit(1);
  }
  const lines = ['file\tcpu_ms_min\tcpu_ms_median\tout_bytes\terror'];
  for (const name of names) {
    const body = fs.readFileSync(path.join(args.corpus, name));
    try {
      await one(body); // warm-up, not counted
      const ms = [];
      let bytes = 0;
      for (let r = 0; r < runs; r++) {
        const t = await one(body);
        ms.push(t.ms);
        bytes = t.bytes;
      }
      ms.sort((a, b) => a - b);
      const mid = ms.length >> 1;
      const median = ms.length % 2 ? ms[mid] : (ms[mid - 1] + ms[mid]) / 2;
      lines.push(`${name}\t${ms[0].toFixed(1)}\t${median.toFixed(1)}\t${bytes}\t`);
    } catch (e) {
      // libvips' message, one line per layer; its "source: bad seek" lines say nothing about why
      const why = String(e.message).split('\n').filter((l) => l.trim() && !/^source: bad seek/.test(l));
      lines.push(`${name}\tfails\t-\t-\t${why.join('; ').replace(/\s+/g, ' ').trim()}`);
    }
  }
  fs.writeFileSync(args.out, lines.join('\n') + '\n');
  console.error(`per-input.js: sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}), ${names.length} files x ${runs} runs -> ${args.out}`);
}

main().catch((e) => {
  console.error(`per-input.js: ${e.stack || e}`);
  process.exit(1);
});
