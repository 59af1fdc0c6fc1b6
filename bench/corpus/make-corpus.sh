#!/bin/bash
# make-corpus.sh: a benchmark corpus that nobody tuned for. From the photos of a folder it writes the
# same pictures through several ordinary encoders and settings (Debian tools only): PNGs from
# ImageMagick, libvips (each filter), a plain Python+zlib writer (adaptive, Paeth-only, tRNS),
# palette, grey, 16-bit, interlaced, RGBA with an alpha ramp, an opaque alpha or a cut-out; JPEGs from cjpeg (baseline, progressive,
# 4:4:4, 4:2:0, restart markers, optimised Huffman, with EXIF), libvips (also in Display P3 with its
# ICC profile, JPEG and PNG) and ImageMagick; TIFF (uncompressed, LZW); WebP and
# AVIF/HEIC when cwebp / heif-enc are there. Images go to OUT/images/, and OUT/corpus.tsv lists
# each file with its encoder, settings, size, bytes and, for PNGs, how many rows carry each filter.
#
# usage: bench/corpus/make-corpus.sh [--photos DIR] [--count N] [--side PX] [--py-side PX] OUT
#   --photos   source photos (JPEG or PNG), default $IMGPIPE_CORPUS or ../shared/corpus/photos from
#              the repository root (as bench/run.sh)
#   --count    how many photos to use (the first N by name, default 3)
#   --side     long side of the images, in pixels (default 2400; smaller photos keep their size)
#   --py-side  long side of the Python writer's PNGs (pure Python: ~10 s per megapixel; default 640)
# Missing tools are installed with apt-get when run as root; otherwise what needs them is skipped,
# with a message. libvips' command-line tools (libvips-tools) are required.
# Then, e.g.: build/bench/imgpipe-bench --inprocess --threads 1 --corpus OUT/images \
#   --do 'transform?w=512&h=512&fit=cover&type=png' --duration 600 --max-requests 200 --per-input OUT/cpu.tsv
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
photos=${IMGPIPE_CORPUS:-$root/../shared/corpus/photos}
count=3
side=2400
py_side=640
die() { echo "make-corpus.sh: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
    case "$1" in
    --photos) photos=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    --side) side=$2; shift 2 ;;
    --py-side) py_side=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) break ;;
    esac
done
[ $# -eq 1 ] || die "usage: make-corpus.sh [--photos DIR] [--count N] [--side PX] [--py-side PX] OUT"
out=$1
[ -d "$photos" ] || die "--photos $photos is not a folder"

# ---- tools: command, Debian package
have() {
    case "$1" in
    convert) convert -version 2>/dev/null | grep -q ImageMagick ;; # not a stand-in script
    *) command -v "$1" >/dev/null 2>&1 ;;
    esac
}
missing=""
for pair in vips:libvips-tools convert:imagemagick cjpeg:libjpeg-turbo-progs cwebp:webp heif-enc:libheif-examples; do
    have "${pair%%:*}" || missing="$missing ${pair#*:}"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing:$missing"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null 2>&1 ||
            { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null 2>&1; } ||
            echo "apt-get install$missing failed: what needs them is skipped"
    else
        echo "not root: skipping what needs$missing (apt-get install$missing)"
    fi
fi
have vips || die "libvips' command-line tools are required (apt-get install libvips-tools)"
have python3 || die "python3 is required"

mkdir -p "$out/images"
img=$out/images
tsv=$out/corpus.tsv
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'file\tformat\tencoder\tsettings\twidth\theight\tbytes\tpng_rows_by_filter\n' >"$tsv"

# add FILE ENCODER SETTINGS: one row of corpus.tsv (files an encoder failed to write are skipped)
add() {
    local f=$1 fmt w h
    if [ ! -s "$img/$f" ]; then
        echo "  skipped $f: $2 wrote nothing" >&2
        rm -f "$img/$f"
        return 0
    fi
    fmt=$(vipsheader -f vips-loader "$img/$f" 2>/dev/null | sed 's/load.*//') || fmt=unreadable
    w=$(vipsheader -f width "$img/$f" 2>/dev/null || echo 0)
    h=$(vipsheader -f height "$img/$f" 2>/dev/null || echo 0)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$f" "$fmt" "$2" "$3" "$w" "$h" "$(stat -c %s "$img/$f")" \
        "$(python3 "$here/pngwrite.py" --rows "$img/$f" 2>/dev/null || echo '?')" >>"$tsv"
}
# try NAME ENCODER SETTINGS COMMAND...: run an encoder, record its file or say why not
try() {
    local f=$1 enc=$2 set=$3
    shift 3
    if "$@" >"$tmp/log" 2>&1; then
        add "$f" "$enc" "$set"
    else
        echo "  skipped $f: $(head -c 200 "$tmp/log" | tr '\n' ' ')" >&2
        rm -f "$img/$f"
    fi
}

# EXIF: an APP1 segment (Make, Model, Orientation 1, DateTime) after a JPEG's SOI
add_exif() {
    python3 - "$1" "$2" <<'EOF'
import struct, sys
src, dst = sys.argv[1], sys.argv[2]
d = open(src, "rb").read()
assert d[:2] == b"\xff\xd8"
entries = [(0x010F, 2, b"Canon\0"), (0x0110, 2, b"Canon EOS 80D\0"), (0x0112, 3, struct.pack("<HH", 1, 0)),
           (0x0132, 2, b"2026:11:30 12:00:00\0")]
off = 8 + 2 + 12 * len(entries) + 4
ifd, extra = struct.pack("<H", len(entries)), b""
for tag, typ, val in entries:
    n = len(val) if typ == 2 else 1
    if len(val) <= 4:
        ifd += struct.pack("<HHI", tag, typ, n) + val.ljust(4, b"\0")
    else:
        ifd += struct.pack("<HHII", tag, typ, n, off + len(extra))
        extra += val
tiff = b"II*\0" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + extra
app1 = b"Exif\0\0" + tiff
open(dst, "wb").write(d[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + d[2:])
EOF
}

n=0
for src in "$photos"/*; do
    [ -f "$src" ] || continue
    loader=$(vipsheader -f vips-loader "$src" 2>/dev/null) || continue
    case "$loader" in jpegload* | pngload*) ;; *) continue ;; esac
    [ "$n" -lt "$count" ] || break
    n=$((n + 1))
    name=$(basename "$src" | sed 's/\.[^.]*$//' | tr -c 'A-Za-z0-9_\n-' '-' | cut -c1-24)
    echo "== $name (from $(basename "$src"))"
    # the picture at --side, upright, RGB; an RGBA copy with a horizontal alpha ramp
    vips thumbnail "$src" "$tmp/rgb0.v" "$side" --height "$side" --size down
    vips extract_band "$tmp/rgb0.v" "$tmp/rgb.v" 0 --n 3
    w=$(vipsheader -f width "$tmp/rgb.v")
    h=$(vipsheader -f height "$tmp/rgb.v")
    vips xyz "$tmp/xy.v" "$w" "$h"
    vips extract_band "$tmp/xy.v" "$tmp/x.v" 0
    vips linear "$tmp/x.v" "$tmp/ramp.v" "$(python3 -c "print(255 / max(1, $w - 1))")" 0 --uchar
    vips bandjoin "$tmp/rgb.v $tmp/ramp.v" "$tmp/rgba.v"
    vips pngsave "$tmp/rgb.v" "$tmp/rgb.png" --compression 1 --strip
    vips pngsave "$tmp/rgba.v" "$tmp/rgba.png" --compression 1 --strip
    vips colourspace "$tmp/rgb.v" "$tmp/grey.v" b-w

    # ---- PNG: libvips' pngsave (libpng), each filter
    for f in none sub up avg paeth all; do
        try "$name-vips-rgba-$f.png" "libvips pngsave" "RGBA, filter=$f, compression 6" \
            vips pngsave "$tmp/rgba.v" "$img/$name-vips-rgba-$f.png" --filter "$f" --compression 6 --strip
    done
    try "$name-vips-rgb-all.png" "libvips pngsave" "RGB, filter=all, compression 6" \
        vips pngsave "$tmp/rgb.v" "$img/$name-vips-rgb-all.png" --filter all --compression 6 --strip
    try "$name-vips-grey.png" "libvips pngsave" "grey 8-bit, default filter" \
        vips pngsave "$tmp/grey.v" "$img/$name-vips-grey.png" --strip
    try "$name-vips-interlaced.png" "libvips pngsave" "RGBA, Adam7 interlaced" \
        vips pngsave "$tmp/rgba.v" "$img/$name-vips-interlaced.png" --interlace --strip
    try "$name-vips-palette.png" "libvips pngsave" "palette (libimagequant), 8 bits" \
        vips pngsave "$tmp/rgb.v" "$img/$name-vips-palette.png" --palette --strip
    vips linear "$tmp/rgba.v" "$tmp/rgba16f.v" 257 0
    vips cast "$tmp/rgba16f.v" "$tmp/rgba16c.v" ushort
    vips copy "$tmp/rgba16c.v" "$tmp/rgba16.v" --interpretation rgb16
    try "$name-vips-rgba16.png" "libvips pngsave" "RGBA 16-bit, filter=all" \
        vips pngsave "$tmp/rgba16.v" "$img/$name-vips-rgba16.png" --bitdepth 16 --filter all --strip

    # ---- PNG: ImageMagick (-quality: tens = zlib level, ones = filter choice; the filters each
    # file really got are in corpus.tsv's last column: 6.9.11 writes -quality 94 unfiltered)
    if have convert; then
        try "$name-im-rgba.png" "ImageMagick convert" "RGBA, default (quality 75: level 7, adaptive)" \
            convert "$tmp/rgba.png" -strip "PNG32:$img/$name-im-rgba.png"
        for q in 95 94 91; do
            try "$name-im-rgba-q$q.png" "ImageMagick convert" "RGBA, -quality $q" \
                convert "$tmp/rgba.png" -strip -quality "$q" "PNG32:$img/$name-im-rgba-q$q.png"
        done
        try "$name-im-rgba-opaque.png" "ImageMagick convert" "RGBA, alpha 255 everywhere (PNG32 of an RGB photo), default" \
            convert "$tmp/rgb.png" -strip -alpha set -channel A -evaluate set 100% +channel "PNG32:$img/$name-im-rgba-opaque.png"
        try "$name-im-rgba-cutout.png" "ImageMagick convert" "RGBA, an ellipse cut out (alpha 0 outside, 6 px soft edge), default" \
            convert "$tmp/rgb.png" -strip \( -size "${w}x$h" xc:black -fill white \
            -draw "ellipse $((w / 2)),$((h / 2)) $((w * 5 / 12)),$((h * 5 / 12)) 0,360" -blur 0x6 \) \
            -alpha off -compose copy_opacity -composite "PNG32:$img/$name-im-rgba-cutout.png"
        try "$name-im-rgb.png" "ImageMagick convert" "RGB, default" convert "$tmp/rgb.png" -strip "PNG24:$img/$name-im-rgb.png"
        try "$name-im-grey.png" "ImageMagick convert" "grey 8-bit, default" \
            convert "$tmp/rgb.png" -strip -colorspace Gray -depth 8 "PNG:$img/$name-im-grey.png"
        try "$name-im-greyalpha.png" "ImageMagick convert" "grey + alpha 8-bit, default" \
            convert "$tmp/rgba.png" -strip -colorspace Gray -depth 8 "PNG:$img/$name-im-greyalpha.png"
        try "$name-im-palette.png" "ImageMagick convert" "256 colours, palette" \
            convert "$tmp/rgb.png" -strip -colors 256 "PNG8:$img/$name-im-palette.png"
        try "$name-im-palette-trns.png" "ImageMagick convert" "palette with tRNS (near-white transparent)" \
            convert "$tmp/rgb.png" -strip -fuzz 15% -transparent white -colors 255 "PNG8:$img/$name-im-palette-trns.png"
        try "$name-im-rgba16.png" "ImageMagick convert" "RGBA 16-bit, default" \
            convert "$tmp/rgba.png" -strip -depth 16 "PNG64:$img/$name-im-rgba16.png"
        try "$name-im-interlaced.png" "ImageMagick convert" "RGBA, Adam7 interlaced" \
            convert "$tmp/rgba.png" -strip -interlace PNG "PNG32:$img/$name-im-interlaced.png"
    fi

    # ---- PNG: a plain writer (Python, zlib): libpng's adaptive heuristic, Paeth only, RGB + tRNS
    vips thumbnail "$tmp/rgba.png" "$tmp/small-rgba.v" "$py_side" --height "$py_side" --size down
    vips rawsave "$tmp/small-rgba.v" "$tmp/small-rgba.raw"
    vips extract_band "$tmp/small-rgba.v" "$tmp/small-rgb.v" 0 --n 3
    vips rawsave "$tmp/small-rgb.v" "$tmp/small-rgb.raw"
    sw=$(vipsheader -f width "$tmp/small-rgba.v")
    sh=$(vipsheader -f height "$tmp/small-rgba.v")
    try "$name-py-rgba-adaptive.png" "python3 zlib writer" "RGBA ${sw}x$sh, adaptive (min sum of |bytes|), level 6" \
        python3 "$here/pngwrite.py" "$tmp/small-rgba.raw" "$sw" "$sh" 4 "$img/$name-py-rgba-adaptive.png" adaptive 6
    try "$name-py-rgba-paeth.png" "python3 zlib writer" "RGBA ${sw}x$sh, Paeth every row, level 9" \
        python3 "$here/pngwrite.py" "$tmp/small-rgba.raw" "$sw" "$sh" 4 "$img/$name-py-rgba-paeth.png" paeth 9
    try "$name-py-rgb-trns.png" "python3 zlib writer" "RGB ${sw}x$sh + tRNS, adaptive, level 6" \
        python3 "$here/pngwrite.py" "$tmp/small-rgb.raw" "$sw" "$sh" 3 "$img/$name-py-rgb-trns.png" trns 6

    # ---- JPEG: cjpeg (libjpeg-turbo), libvips, ImageMagick
    if have cjpeg; then
        vips copy "$tmp/rgb.v" "$tmp/rgb.ppm"
        try "$name-cjpeg-420.jpg" "cjpeg" "q85, baseline, 4:2:0" cjpeg -quality 85 -sample 2x2 -outfile "$img/$name-cjpeg-420.jpg" "$tmp/rgb.ppm"
        try "$name-cjpeg-444.jpg" "cjpeg" "q85, baseline, 4:4:4" cjpeg -quality 85 -sample 1x1 -outfile "$img/$name-cjpeg-444.jpg" "$tmp/rgb.ppm"
        try "$name-cjpeg-prog-420.jpg" "cjpeg" "q85, progressive, 4:2:0" \
            cjpeg -quality 85 -sample 2x2 -progressive -outfile "$img/$name-cjpeg-prog-420.jpg" "$tmp/rgb.ppm"
        try "$name-cjpeg-prog-444.jpg" "cjpeg" "q92, progressive, 4:4:4" \
            cjpeg -quality 92 -sample 1x1 -progressive -outfile "$img/$name-cjpeg-prog-444.jpg" "$tmp/rgb.ppm"
        try "$name-cjpeg-restart.jpg" "cjpeg" "q85, 4:2:0, restart marker every MCU row" \
            cjpeg -quality 85 -sample 2x2 -restart 1 -outfile "$img/$name-cjpeg-restart.jpg" "$tmp/rgb.ppm"
        try "$name-cjpeg-opt.jpg" "cjpeg" "q85, 4:2:0, optimised Huffman tables" \
            cjpeg -quality 85 -sample 2x2 -optimize -outfile "$img/$name-cjpeg-opt.jpg" "$tmp/rgb.ppm"
        if cjpeg -quality 85 -sample 2x2 -outfile "$tmp/plain.jpg" "$tmp/rgb.ppm" && add_exif "$tmp/plain.jpg" "$img/$name-cjpeg-exif.jpg"; then
            add "$name-cjpeg-exif.jpg" "cjpeg + APP1" "q85, 4:2:0, EXIF (Make, Model, Orientation 1, DateTime)"
        fi
        try "$name-cjpeg-grey.jpg" "cjpeg" "q85, greyscale" cjpeg -quality 85 -grayscale -outfile "$img/$name-cjpeg-grey.jpg" "$tmp/rgb.ppm"
    fi
    try "$name-vips.jpg" "libvips jpegsave" "Q 75 (default), 4:2:0" vips jpegsave "$tmp/rgb.v" "$img/$name-vips.jpg" --strip
    # a phone's colour: the picture in Display P3 with the profile embedded (the profile of the
    # repository's fixture edge/displayp3-profile.png)
    if vipsheader -f icc-profile-data "$root/tests/fixtures/edge/displayp3-profile.png" | base64 -d >"$tmp/p3.icc" 2>/dev/null &&
        vips icc_transform "$tmp/rgb.v" "$tmp/p3.v" "$tmp/p3.icc"; then
        try "$name-vips-p3.jpg" "libvips jpegsave" "Q 85, 4:2:0, Display P3 ICC profile, the photo's EXIF" vips jpegsave "$tmp/p3.v" "$img/$name-vips-p3.jpg" --Q 85
        try "$name-vips-p3.png" "libvips pngsave" "RGB, Display P3 ICC profile (iCCP)" vips pngsave "$tmp/p3.v" "$img/$name-vips-p3.png"
    else
        echo "make-corpus.sh: no Display P3 profile: the -p3 images are skipped" >&2
    fi
    if have convert; then
        try "$name-im.jpg" "ImageMagick convert" "default (quality 92 for untagged input, 4:2:0)" convert "$tmp/rgb.png" -strip "$img/$name-im.jpg"
    fi

    # ---- TIFF: what scanners and print workflows hand over (libvips' loader, computed on demand)
    try "$name-vips.tif" "libvips tiffsave" "RGB, uncompressed strips" vips tiffsave "$tmp/rgb.v" "$img/$name-vips.tif"
    try "$name-vips-lzw.tif" "libvips tiffsave" "RGB, LZW with the horizontal predictor" \
        vips tiffsave "$tmp/rgb.v" "$img/$name-vips-lzw.tif" --compression lzw --predictor horizontal

    # ---- WebP, AVIF, HEIC
    if have cwebp; then
        try "$name-cwebp-q75.webp" "cwebp" "lossy q75, RGB" cwebp -quiet -q 75 "$tmp/rgb.png" -o "$img/$name-cwebp-q75.webp"
        try "$name-cwebp-alpha.webp" "cwebp" "lossy q75, alpha" cwebp -quiet -q 75 "$tmp/rgba.png" -o "$img/$name-cwebp-alpha.webp"
        try "$name-cwebp-lossless.webp" "cwebp" "lossless, alpha" cwebp -quiet -lossless "$tmp/rgba.png" -o "$img/$name-cwebp-lossless.webp"
    fi
    if have heif-enc; then
        try "$name-heifenc.avif" "heif-enc (aom)" "AVIF q50" heif-enc --avif -q 50 -o "$img/$name-heifenc.avif" "$tmp/rgb.png"
        try "$name-heifenc.heic" "heif-enc (x265)" "HEIC q50" heif-enc -q 50 -o "$img/$name-heifenc.heic" "$tmp/rgb.png"
    fi
done
[ "$n" -gt 0 ] || die "no JPEG or PNG photo in $photos"
echo "$(($(wc -l <"$tsv") - 1)) images from $n photos in $img; list: $tsv"
