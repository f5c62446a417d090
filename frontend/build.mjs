// Builds the designer and viewer bundles into ../webapp/static/vendor/.
// Run by `make` through `npm run build`; everything comes from node_modules
// (no CDN, DESIGN rule 12). Output is plain IIFE scripts and CSS files that
// satisfy the page CSP (no eval, no inline scripts, fonts served by the app).
import * as esbuild from 'esbuild';
import { mkdir, rm, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.resolve(here, '..', 'webapp', 'static', 'vendor');
const started = Date.now();

const common = {
  bundle: true,
  minify: true,
  target: [ 'es2020' ],
  platform: 'browser',
  charset: 'utf8',
  legalComments: 'eof',
  drop: [ 'debugger' ],
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
  absWorkingDir: here,
  outdir
};

await mkdir(outdir, { recursive: true });
await Promise.all([ 'designer.js', 'designer.css', 'viewer.js', 'viewer.css', 'fonts' ]
  .map((name) => rm(path.join(outdir, name), { recursive: true, force: true })));

const results = await Promise.all([
  esbuild.build({ ...common, entryPoints: { designer: 'src/designer.js' }, format: 'iife', globalName: 'ShodakuDesigner', metafile: true }),
  esbuild.build({ ...common, entryPoints: { viewer: 'src/viewer.js' }, format: 'iife', globalName: 'ShodakuViewer', metafile: true }),
  esbuild.build({
    ...common,
    entryPoints: { designer: 'src/designer.css', viewer: 'src/viewer.css' },
    loader: { '.eot': 'file', '.woff': 'file', '.woff2': 'file', '.ttf': 'file', '.svg': 'file' },
    assetNames: 'fonts/[name]-[hash]',
    metafile: true
  })
]);

// The page CSP has no 'unsafe-eval': refuse a bundle that would need it.
for (const name of [ 'designer.js', 'viewer.js' ]) {
  const code = await readFile(path.join(outdir, name), 'utf8');
  if (/\bnew Function\s*\(|\beval\s*\(/.test(code)) {
    throw new Error(`${name} contains eval/new Function, which the CSP forbids`);
  }
}

const sizes = results.flatMap((r) => Object.entries(r.metafile.outputs))
  .map(([ file, info ]) => `${path.relative(outdir, path.resolve(here, file))} ${(info.bytes / 1024).toFixed(0)} KiB`);
console.log(`built ${sizes.join(', ')} in ${Date.now() - started} ms`);
