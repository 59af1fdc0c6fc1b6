/*
 * pl_info: imaginary's /info as JSON, built with jansson from the header only (no pixel decode).
 * Keys as imaginary (width, height, type, space, hasAlpha, hasProfile, channels, orientation)
 * plus imgpipe's bands, pages and size (input bytes). Width/height are the stored (unrotated)
 * size, as imaginary; orientation is 0 when the image has no EXIF orientation.
 */
#include <jansson.h>
#include <string.h>

#include "pl_internal.h"

int pl_info_json(pl_ctx *c, const pl_probe_info *pi, VipsImage *head, pl_result *out)
{
    json_t *o = json_object();
    if (o == NULL)
        return pl_error_set(c->err, PL_E_INTERNAL, "Out of memory building the image info");
    const char *space = vips_enum_nick(VIPS_TYPE_INTERPRETATION, head->Type);
    json_object_set_new(o, "width", json_integer(pi->width));
    json_object_set_new(o, "height", json_integer(pi->height));
    json_object_set_new(o, "type", json_string(pl_encode_name(pi->format)));
    json_object_set_new(o, "space", json_string(space != NULL ? space : "unknown"));
    json_object_set_new(o, "hasAlpha", json_boolean(vips_image_hasalpha(head)));
    json_object_set_new(o, "hasProfile", json_boolean(vips_image_get_typeof(head, VIPS_META_ICC_NAME) != 0));
    json_object_set_new(o, "channels", json_integer(head->Bands));
    json_object_set_new(o, "orientation", json_integer(pi->orientation));
    json_object_set_new(o, "bands", json_integer(head->Bands));
    json_object_set_new(o, "pages", json_integer(pi->pages));
    json_object_set_new(o, "size", json_integer((json_int_t)c->in->len));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (text == NULL)
        return pl_error_set(c->err, PL_E_INTERNAL, "Out of memory building the image info");
    /* pl_result_clear() frees with g_free: hand over a GLib copy */
    size_t len = strlen(text);
    out->data = g_memdup2(text, len + 1);
    free(text);
    out->len = len;
    out->format = PL_FMT_UNKNOWN;
    out->mime = "application/json";
    out->width = pi->width;
    out->height = pi->height;
    return 0;
}
