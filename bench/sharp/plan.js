// plan.js: imgpipe's and imaginary's operations and queries mapped to sharp calls, shared by the
// comparison server (server.js) and the per-input timer (per-input.js), so both do the same work.
//   plan(op, q)          resize options for /fit, /resize, /thumbnail, /crop, /transform, or null
//   encode(img, q, meta) the output encoder with imgpipe's settings: [sharp instance, MIME type]
//   render(sharp, body, resize, q)  one image the way the server answers it: EXIF orientation applied,
//                        resized, encoded to a buffer (the input's format when q has no type):
//                        resolves to [Buffer, MIME type]
//   int(q, names, def)   an integer query parameter 0..16383 under any of its names
// q is a URLSearchParams. Errors of the query are thrown with "must be" or "needs" in the message.
'use strict';

function int(q, names, def) {
  for (const n of names) {
    if (q.has(n)) {
      const v = Number(q.get(n));
      if (!Number.isInteger(v) || v < 0 || v > 16383) throw new Error(`${n} must be an integer 0..16383`);
      return v;
    }
  }
  return def;
}

function plan(op, q) {
  const width = int(q, ['width', 'w'], 0) || undefined;
  const height = int(q, ['height', 'h'], 0) || undefined;
  switch (op) {
    case 'fit':
      if (!width || !height) throw new Error('fit needs width and height');
      return { width, height, fit: 'inside' };
    case 'resize':
      if (!width && !height) throw new Error('resize needs width or height');
      return width && height ? { width, height, fit: 'contain', background: { r: 0, g: 0, b: 0, alpha: 1 } } : { width, height };
    case 'thumbnail':
      if (!width && !height) throw new Error('thumbnail needs width or height');
      return width && height ? { width, height, fit: 'fill' } : { width, height };
    case 'crop':
      if (!width && !height) throw new Error('crop needs width or height');
      return { width, height, fit: 'cover', position: 'centre' };
    case 'transform': {
      const fit = q.get('fit') || 'inside';
      if (!['cover', 'contain', 'fill', 'inside', 'outside'].includes(fit)) throw new Error('fit must be cover, contain, fill, inside or outside');
      return { width, height, fit, withoutEnlargement: q.get('enlarge') !== 'true' };
    }
    default:
      return null;
  }
}

function encode(img, q, meta) {
  const type = (q.get('type') || meta.format || 'jpeg').toLowerCase();
  const quality = int(q, ['quality', 'q'], 75);
  switch (type) {
    case 'jpeg':
    case 'jpg':
      // imgpipe optimises Huffman tables only for progressive JPEGs (pipelines/pl_encode.c: twice the
      // encoder's CPU for 2 % smaller files); sharp does by default: off, so both do the same work
      return [img.jpeg({ quality, optimiseCoding: false }), 'image/jpeg'];
    case 'png':
      return [img.png({ compressionLevel: int(q, ['compression'], 6) }), 'image/png'];
    case 'webp':
      return [img.webp({ quality }), 'image/webp'];
    case 'avif':
      return [img.avif({ quality }), 'image/avif'];
    default:
      throw new Error(`type ${type} is not one of jpeg, png, webp, avif`);
  }
}

async function render(sharp, body, resize, q) {
  const img = sharp(body, { failOn: 'none' }).rotate().resize(resize);
  const meta = q.has('type') ? {} : await sharp(body).metadata(); // keep the input's format
  const [enc, mime] = encode(img, q, meta);
  return [await enc.toBuffer(), mime];
}

module.exports = { int, plan, encode, render };
