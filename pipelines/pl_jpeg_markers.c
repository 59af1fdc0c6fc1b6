/*
 * pl_jpeg_markers: what a JPEG's markers say before anything decodes it, in one walk: the frame
 * header's coding process (SOFn), and how many scans follow.
 *
 * The process: libjpeg-turbo 2.1 cannot decode lossless and hierarchical JPEG; pl_load_header
 * names them rather than let the loader call the file damaged.
 *
 * The scans: each is a full pass of the decoder over the blocks of its components, whatever its
 * size in bytes: an EOB run covers up to 32767 blocks in a few bits, so a 1 MB file can carry tens
 * of thousands of near-empty scans over a 12 MP image, and libjpeg-turbo 2.1 spends about 1.3 ms
 * on each (a 100-scan photo12 decodes in 202 ms at 1/4 against 81 for 4 scans, tjbench on the test
 * VM): a valid file that keeps a worker busy until the deadline kills it ("Two Issues with the
 * JPEG Standard", libjpeg-turbo.org). Encoders write 1 to 4 scans for sequential JPEG, 10 for
 * libjpeg's progressive script, a few dozen at most otherwise (jpegtran's scripts stop at 100);
 * libjpeg-turbo 3 has a scan limit (TJPARAM_SCANLIMIT, 500 in its own fuzzers), 2.1 (Debian 12)
 * has none. So pl_load refuses a JPEG with more than PL_JPEG_MAX_SCANS.
 *
 * A sequential frame (SOF0, SOF1, SOF9) whose first scan is interleaved (all its components) is
 * decoded in one pass whatever follows: libjpeg-turbo's input controller expects EOI after that
 * scan and stops with an error at another SOS. The walk ends there (1 scan).
 *
 * The walk: marker segments by their lengths; after an SOS header, the entropy-coded data runs to
 * the next 0xFF that is not stuffing (0xFF00), a restart marker (0xFFD0-D7) or a fill byte. It
 * ends at EOI, the end of the bytes or anything that is not a marker where one must be (the
 * decoder reports that). No allocation; stops counting past the limit. Pure function of the
 * bytes, any thread.
 */
#include <string.h>

#include "pl_internal.h"

int pl_jpeg_markers(const uint8_t *d, size_t len, int limit, int *sof)
{
    size_t i = 2;
    int scans = 0, components = -1;
    *sof = -1;
    if (len < 4 || d[0] != 0xFF || d[1] != 0xD8)
        return 0;
    while (i + 1 < len && scans <= limit) {
        if (d[i] != 0xFF)
            return scans;
        uint8_t m = d[i + 1];
        if (m == 0xFF) { /* fill byte */
            i++;
            continue;
        }
        if (m == 0xD9) /* EOI */
            return scans;
        if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) { /* no length */
            i += 2;
            continue;
        }
        if (i + 4 > len)
            return scans;
        /* the frame header: the first SOFn before any scan (DHT, JPG and DAC share the range) */
        if (*sof < 0 && scans == 0 && m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
            *sof = m - 0xC0;
            /* Nf, after P, Y and X, inside a segment long enough to hold it */
            components = i + 9 < len && (((size_t)d[i + 2] << 8) | d[i + 3]) >= 8 ? d[i + 9] : -1;
        }
        size_t seg = ((size_t)d[i + 2] << 8) | d[i + 3];
        if (seg < 2)
            return scans;
        /* a sequential frame whose first scan carries every component is one pass: libjpeg-turbo
         * decodes that scan and calls any further SOS an error ("Didn't expect more than one
         * scan"), so the entropy-coded data need not be walked (3 MB of a 12 MP photo) */
        if (m == 0xDA && scans == 0 && (*sof == 0 || *sof == 1 || *sof == 9) && i + 4 < len && d[i + 4] == components)
            return 1;
        i += 2 + seg;
        if (m != 0xDA)
            continue;
        scans++;
        while (i + 1 < len) { /* the scan's entropy-coded data */
            const uint8_t *ff = memchr(d + i, 0xFF, len - i - 1);
            if (ff == NULL)
                return scans;
            i = (size_t)(ff - d);
            uint8_t n = d[i + 1];
            if (n == 0x00 || (n >= 0xD0 && n <= 0xD7))
                i += 2;
            else if (n == 0xFF)
                i++;
            else
                break; /* the next marker */
        }
    }
    return scans;
}
