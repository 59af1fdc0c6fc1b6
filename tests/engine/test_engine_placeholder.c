/*
 * test_engine_placeholder: the placeholder encoders (pl_placeholder.h) against the reference
 * implementations' published values: BlurHash's reference table (woltapp/blurhash
 * Reference/Hashes.csv, made by its C encoder) on pic1 and pic4, ThumbHash's published hash of
 * evanw/thumbhash's examples/flower.jpg; the dominant colour on generated images of known colours.
 */
#include "engine_util.h"
#include "pl_placeholder.h"

/* RGBA pixels of a fixture, decoded by libvips; caller g_free()s. */
static uint8_t *load_rgba(const char *rel, int *w, int *h)
{
    VipsImage *im = vips_image_new_from_file(tap_fixture(rel), NULL), *t = NULL;
    uint8_t *px = NULL;
    size_t len = 0;
    if (im == NULL || (im->Bands == 3 ? vips_addalpha(im, &t, NULL) : vips_copy(im, &t, NULL)) ||
        (px = vips_image_write_to_memory(t, &len)) == NULL) {
        diag("cannot load %s: %s", rel, vips_error_buffer());
        vips_error_clear();
    } else {
        *w = t->Xsize;
        *h = t->Ysize;
    }
    if (t)
        g_object_unref(t);
    if (im)
        g_object_unref(im);
    return px;
}

static void blurhash_table(const char *rel, const char *const (*rows)[3], size_t n)
{
    int w = 0, h = 0;
    uint8_t *px = load_rgba(rel, &w, &h);
    ok(px != NULL, "%s loads", rel);
    for (size_t i = 0; px != NULL && i < n; i++) {
        char got[PL_BLURHASH_MAX];
        int cx = atoi(rows[i][0]), cy = atoi(rows[i][1]);
        int r = pl_blurhash_encode(px, w, h, 4, (size_t)w * 4, cx, cy, got, sizeof(got));
        ok(r == 0, "%s %dx%d encodes", rel, cx, cy);
        is_str(got, rows[i][2], "%s %dx%d = the reference hash", rel, cx, cy);
    }
    g_free(px);
}

/* a w x h image whose left `share` of columns is colour a, the rest colour b (RGBA) */
static uint8_t *two_colours(int w, int h, double share, const uint8_t a[3], const uint8_t b[3])
{
    uint8_t *px = g_malloc((size_t)w * h * 4);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const uint8_t *c = x < (int)(w * share + 0.5) ? a : b;
            uint8_t *p = px + ((size_t)y * w + x) * 4;
            p[0] = c[0], p[1] = c[1], p[2] = c[2], p[3] = 255;
        }
    return px;
}

static int colour_dist(const uint8_t *a, const uint8_t *b)
{
    int d = 0;
    for (int i = 0; i < 3; i++)
        d = VIPS_MAX(d, abs((int)a[i] - (int)b[i]));
    return d;
}

int main(void)
{
    if (eu_init())
        return 1;

    /* woltapp/blurhash Reference/Hashes.csv (a sample of its rows: every component count 1..8 appears) */
    static const char *const pic1[][3] = {
        {"1", "1", "00JHjm"},
        {"4", "3", "LaJHjmVu8_~po#smR+a~xaoLWCRj"},
        {"3", "3", "KRJHjmR700o#smR+%1oMWC"},
        {"2", "8", "%7JHjmHbt.,;~AxH?c%1WAtlxa?aRjNy-:-:"},
        {"8", "1", "7aJHjmVu8_~pXA8_R%f+"},
        {"5", "4", "VaJHjmVu8_~pXAo#smR+a~tRxaoLWCRjxtt8ofRjWYRj"},
        {"7", "6", "paJHjmVu8_~pXA8_R%o#smR+a~tRRjoexaoLWCRjxtt7Rjt8ofRjWYRjjZjcaxofoda~j]oLo1oet7ayoeWDa#jt"},
    };
    static const char *const pic4[][3] = {
        {"1", "1", "008ia?"},
        {"4", "3", "L08ia?o|fQo|tkfQfQfQfQfQfQfQ"},
        {"6", "5", "f08ia?o|fQo|fQo|tkfQfQfQfQfQfQfQfQfQfQfQtkfQfQfQfQfQfQfQfQfQfQfQ"},
    };
    blurhash_table("placeholder/blurhash-pic1.png", pic1, sizeof(pic1) / sizeof(pic1[0]));
    blurhash_table("placeholder/blurhash-pic4.png", pic4, sizeof(pic4) / sizeof(pic4[0]));
    {
        char out[PL_BLURHASH_MAX];
        uint8_t px[12] = {0};
        ok(pl_blurhash_encode(px, 2, 2, 3, 6, 0, 3, out, sizeof(out)) == -1, "blurhash: 0 components refused");
        ok(pl_blurhash_encode(px, 2, 2, 3, 6, 10, 3, out, sizeof(out)) == -1, "blurhash: 10 components refused");
    }

    /* ThumbHash: evanw/thumbhash examples/flower.jpg (75x100) */
    {
        int w = 0, h = 0;
        uint8_t *px = load_rgba("placeholder/thumbhash-flower.jpg", &w, &h);
        uint8_t th[PL_THUMBHASH_MAX];
        size_t n = 0;
        ok(px != NULL && pl_thumbhash_encode(px, w, h, th, sizeof(th), &n) == 0, "thumbhash: flower encodes");
        gchar *b64 = g_base64_encode(th, n);
        is_str(b64, "k0oGLQaSVsN0BVhn2oq2Z5SQUQcZ", "thumbhash: flower = the published hash");
        g_free(b64);
        ok(pl_thumbhash_encode(px, 101, 1, th, sizeof(th), &n) == -1, "thumbhash: wider than 100 refused");
        g_free(px);
    }
    /* ThumbHash with alpha: header flag and the alpha byte */
    {
        uint8_t *px = g_malloc0(20 * 10 * 4);
        for (int i = 0; i < 20 * 10; i++)
            px[i * 4 + 0] = 200, px[i * 4 + 3] = (i % 20) < 10 ? 255 : 0;
        uint8_t th[PL_THUMBHASH_MAX];
        size_t n = 0;
        ok(pl_thumbhash_encode(px, 20, 10, th, sizeof(th), &n) == 0, "thumbhash: alpha image encodes");
        ok((th[2] & 0x80) != 0, "thumbhash: alpha flag set");
        ok((th[4] & 0x80) != 0, "thumbhash: landscape flag set for 20x10");
        g_free(px);
    }

    /* dominant colour: 70 % one colour, 30 % another -> the first, within 2 levels */
    {
        const uint8_t red[3] = {200, 30, 40}, blue[3] = {20, 60, 210};
        uint8_t got[3];
        uint8_t *px = two_colours(100, 60, 0.7, red, blue);
        pl_placeholder_color(px, 100, 60, got);
        ok(colour_dist(got, red) <= 2, "color: 70/30 red/blue -> red (got %d,%d,%d)", got[0], got[1], got[2]);
        g_free(px);
        px = two_colours(100, 60, 0.3, red, blue);
        pl_placeholder_color(px, 100, 60, got);
        ok(colour_dist(got, blue) <= 2, "color: 30/70 red/blue -> blue (got %d,%d,%d)", got[0], got[1], got[2]);
        g_free(px);
        /* noise around two centres: the answer is the mean of the larger group */
        px = two_colours(100, 100, 0.7, red, blue);
        for (int i = 0; i < 100 * 100; i++)
            for (int k = 0; k < 3; k++) {
                int v = px[i * 4 + k] + ((i * 7 + k * 13) % 11) - 5;
                px[i * 4 + k] = (uint8_t)VIPS_CLIP(0, v, 255);
            }
        pl_placeholder_color(px, 100, 100, got);
        ok(colour_dist(got, red) <= 3, "color: noisy 70/30 -> red within 3 (got %d,%d,%d)", got[0], got[1], got[2]);
        /* transparent pixels do not count */
        for (int i = 0; i < 100 * 100; i++)
            if (i % 100 < 70)
                px[i * 4 + 3] = 0;
        pl_placeholder_color(px, 100, 100, got);
        ok(colour_dist(got, blue) <= 3, "color: the transparent 70 %% is ignored (got %d,%d,%d)", got[0], got[1], got[2]);
        g_free(px);
    }
    return tap_done();
}
