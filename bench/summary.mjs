// One table of every speed target (issue #7 and the explanation targets of #3), gathered from the
// latest results the three benchmarks wrote into bench/out: latest.json (bash bench/run.sh: core
// engine under node and natively), browser.json (node bench/browser.mjs: headless Chromium) and
// methods.json (node bench/methods.mjs: whole explanations against TF.js-wasm and PyTorch),
// large.json (node bench/large.mjs: 224x224 classifiers against onnxruntime-web and PyTorch) and
// large_browser.json (node bench/large_browser.mjs: the same classifiers on our page against
// onnxruntime-web in headless Chromium).
// Each row names the run it comes from (start time, commit, load), since the three run at
// different times. Prints markdown and writes bench/out/summary.md.
//   node bench/summary.mjs [--out bench/out]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outArg = process.argv.indexOf('--out');
const OUT = path.resolve(ROOT, outArg > 0 ? process.argv[outArg + 1] : 'bench/out');

const sources = [
  { file: 'latest.json', command: 'bash bench/run.sh' },
  { file: 'browser.json', command: 'node bench/browser.mjs' },
  { file: 'methods.json', command: 'node bench/methods.mjs' },
  { file: 'large.json', command: 'node bench/large.mjs' },
  { file: 'large_browser.json', command: 'node bench/large_browser.mjs' },
];

const fmt = (v) => (typeof v === 'number' ? v.toFixed(3) : String(v));
const rows = [];
const runs = [];
for (const src of sources) {
  const file = path.join(OUT, src.file);
  if (!fs.existsSync(file)) {
    runs.push(`- ${src.command}: no ${src.file} yet (run it first)`);
    continue;
  }
  const r = JSON.parse(fs.readFileSync(file, 'utf8'));
  const m = r.machine ?? {};
  const when = `${(m.date ?? '?').replace('T', ' ').slice(0, 16)} UTC, commit ${m.commit ?? '?'}`;
  runs.push(`- \`${src.command}\`: ${when}; load ${m.load_before ?? '?'} at start, ${m.load_after ?? '?'} at end`);
  for (const t of r.targets ?? []) {
    // latest/browser targets carry several ratios (one per batch); methods targets one value.
    const measured = t.ratios
      ? Object.entries(t.ratios).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')
      : fmt(t.value);
    rows.push({ result: t.pass ? 'PASS' : 'FAIL', text: t.text, measured, limit: `<= ${+Number(t.max).toFixed(3)}`, source: src.command });
  }
}

const table = [
  '| result | target | measured | limit | from |',
  '| --- | --- | --- | --- | --- |',
  ...rows.map((r) => `| ${r.result} | ${r.text} | ${r.measured} | ${r.limit} | \`${r.source}\` |`),
];
const passed = rows.filter((r) => r.result === 'PASS').length;
const md = [
  '# cnnlens speed targets, one table',
  '',
  `${passed} of ${rows.length} targets pass in the latest runs:`,
  '',
  ...runs,
  '',
  ...table,
  '',
].join('\n');
process.stdout.write(md);
fs.mkdirSync(OUT, { recursive: true });
fs.writeFileSync(path.join(OUT, 'summary.md'), md);
