// server.js: a small HTTP server answering imgpipe's bench workloads with sharp (libvips for
// Node.js), for comparison runs only (bench/run.sh --with-sharp). POST the image as the raw body to
// the same paths and queries as imgpipe / imaginary:
//   /fit?width=W&height=H            fit inside W x H (imaginary's /fit)
//   /resize?width=W[&height=H]       W only: proportional; W and H: fit inside, pad to W x H
//   /thumbnail?width=W&height=H      stretched to exactly W x H (imaginary's /thumbnail)
//   /crop?width=W&height=H           cover, then centre crop
//   /transform?w=W&h=H&fit=cover|contain|fill|inside|outside
//   /renditions?r=<URL-encoded transform query>&r=…&placeholders=blurhash
//                                    several transform outputs from one upload, the way a sharp user
//                                    writes it: one sharp(body).rotate(), clone() per output,
//                                    Promise.all; a BlurHash of a 32 px raw copy; multipart/mixed out
// plus type=jpeg|png|webp|avif, quality|q (default 75, imaginary's), compression (PNG, default 6).
// EXIF orientation is applied (like imgpipe and imaginary); metadata is stripped (sharp's default).
// Encoders as imgpipe's: JPEG 4:2:0 without Huffman optimisation, WebP effort 4 without smart
// subsampling (sharp's and libvips' defaults), PNG at the asked compression.
// GET /health answers 200 for readiness checks. Errors: {"message": "...", "status": N}.
// Usage: node server.js --listen 127.0.0.1:PORT   (loopback unless you pass another address)
'use strict';
const http = require('http');
const sharp = require('sharp');
const { plan, encode, render } = require('./plan'); // the operations and encoders, shared with per-input.js

sharp.cache(false); // like imgpipe (vips_cache_set_max(0)): every request does the full work
if (process.env.SHARP_CONCURRENCY) sharp.concurrency(parseInt(process.env.SHARP_CONCURRENCY, 10));

const MAX_BODY = 64 * 1024 * 1024;
let listen = '127.0.0.1:8090';
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === '--listen' && process.argv[i + 1]) listen = process.argv[++i];
}
const colon = listen.lastIndexOf(':');
const host = listen.slice(0, colon);
const port = parseInt(listen.slice(colon + 1), 10);

function fail(res, status, message) {
  const body = JSON.stringify({ message, status });
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

// BlurHash (woltapp's algorithm) of w x h RGBA pixels: what the `blurhash` npm package's encode() does.
const B83 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~';
function b83(v, n) {
  let s = '';
  for (let i = 1; i <= n; i++) s += B83[Math.floor(v / Math.pow(83, n - i)) % 83];
  return s;
}
function blurhash(px, w, h, cx, cy) {
  const lin = (v) => ((v /= 255) <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4));
  const srgb = (v) => {
    v = Math.max(0, Math.min(1, v));
    return Math.trunc(v <= 0.0031308 ? v * 12.92 * 255 + 0.5 : (1.055 * Math.pow(v, 1 / 2.4) - 0.055) * 255 + 0.5);
  };
  const f = [];
  for (let j = 0; j < cy; j++)
    for (let i = 0; i < cx; i++) {
      let r = 0, g = 0, b = 0;
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          const basis = Math.cos((Math.PI * i * x) / w) * Math.cos((Math.PI * j * y) / h), o = 4 * (y * w + x);
          r += basis * lin(px[o]), g += basis * lin(px[o + 1]), b += basis * lin(px[o + 2]);
        }
      const s = (i === 0 && j === 0 ? 1 : 2) / (w * h);
      f.push([r * s, g * s, b * s]);
    }
  let hash = b83(cx - 1 + (cy - 1) * 9, 1), max = 1;
  if (f.length > 1) {
    const actual = Math.max(...f.slice(1).map((c) => Math.max(...c.map(Math.abs))));
    const q = Math.max(0, Math.min(82, Math.floor(actual * 166 - 0.5)));
    max = (q + 1) / 166;
    hash += b83(q, 1);
  } else hash += b83(0, 1);
  hash += b83((srgb(f[0][0]) << 16) + (srgb(f[0][1]) << 8) + srgb(f[0][2]), 4);
  const ac = (v) => Math.max(0, Math.min(18, Math.floor(Math.sign(v / max) * Math.sqrt(Math.abs(v / max)) * 9 + 9.5)));
  for (const c of f.slice(1)) hash += b83(ac(c[0]) * 361 + ac(c[1]) * 19 + ac(c[2]), 2);
  return hash;
}

// /renditions: one sharp instance per upload, clone() per output, all encoded at once.
async function renditions(res, url, body) {
  const specs = url.searchParams.getAll('r').map((r, i) => {
    const q = new URLSearchParams(r);
    return { name: q.get('name') || `r${i + 1}`, q, resize: plan('transform', q) };
  });
  const base = sharp(body, { failOn: 'none' }).rotate();
  const jobs = specs.map((s) => {
    const [enc, mime] = encode(base.clone().resize(s.resize), s.q, { format: 'jpeg' });
    return enc.toBuffer({ resolveWithObject: true }).then(({ data, info }) => ({ ...s, data, info, mime }));
  });
  const ph = (url.searchParams.get('placeholders') || '').split(',');
  const meta = { placeholders: {} };
  if (ph.includes('blurhash'))
    jobs.push(
      base.clone().resize(32, 32, { fit: 'inside' }).ensureAlpha().raw().toBuffer({ resolveWithObject: true })
        .then(({ data, info }) => { meta.placeholders.blurhash = blurhash(data, info.width, info.height, 4, 3); return null; }));
  const outs = (await Promise.all(jobs)).filter((o) => o);
  meta.renditions = outs.map((o) => ({ name: o.name, type: o.info.format, width: o.info.width, height: o.info.height, bytes: o.data.length }));
  const B = 'sharp-renditions-4b1e9c0d7a2f';
  const parts = [];
  const json = JSON.stringify(meta);
  parts.push(Buffer.from(`--${B}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}\r\n`));
  for (const o of outs) {
    const ext = o.info.format === 'jpeg' ? 'jpg' : o.info.format;
    parts.push(Buffer.from(`--${B}\r\nContent-Type: ${o.mime}\r\nContent-Disposition: inline; filename="${o.name}.${ext}"\r\n` +
      `Image-Width: ${o.info.width}\r\nImage-Height: ${o.info.height}\r\nContent-Length: ${o.data.length}\r\n\r\n`), o.data, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${B}--\r\n`));
  const out = Buffer.concat(parts);
  res.writeHead(200, { 'Content-Type': `multipart/mixed; boundary=${B}`, 'Content-Length': out.length });
  res.end(out);
}

async function handle(req, res, body) {
  const url = new URL(req.url, 'http://x');
  const op = url.pathname.replace(/^\/+/, '');
  if (req.method === 'GET' && (op === 'health' || op === '')) {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    return res.end(JSON.stringify({ sharp: sharp.versions.sharp, vips: sharp.versions.vips }));
  }
  if (req.method !== 'POST') return fail(res, 405, 'POST the image as the body');
  if (!body.length) return fail(res, 400, 'Empty or unreadable image');
  if (op === 'renditions') {
    try {
      return await renditions(res, url, body);
    } catch (e) {
      return fail(res, /must be|needs/.test(e.message) ? 400 : 422, e.message.replace(/\n/g, ' '));
    }
  }
  let resize;
  try {
    resize = plan(op, url.searchParams);
  } catch (e) {
    return fail(res, 400, e.message);
  }
  if (!resize) return fail(res, 404, `no route /${op} in the sharp comparison server`);
  try {
    const [out, mime] = await render(sharp, body, resize, url.searchParams);
    res.writeHead(200, { 'Content-Type': mime, 'Content-Length': out.length });
    res.end(out);
  } catch (e) {
    fail(res, /type|must be/.test(e.message) ? 400 : 422, e.message.replace(/\n/g, ' '));
  }
}

const server = http.createServer((req, res) => {
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size > MAX_BODY) {
      fail(res, 413, 'body too large');
      req.destroy();
    } else chunks.push(c);
  });
  req.on('end', () => handle(req, res, Buffer.concat(chunks)).catch((e) => fail(res, 500, String(e))));
});
server.keepAliveTimeout = 60000;
server.listen(port, host, () => {
  console.log(`sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}) listening on http://${host}:${port}, pid ${process.pid}`);
});
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
});
