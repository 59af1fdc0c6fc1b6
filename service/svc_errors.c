/*
 * svc_errors: lookups in the service's error table (svc_errors.h). Pure; any thread.
 */
#include "svc_errors.h"

static const struct {
    const char *name;
    int status, retry_after;
} svc_errors[] = {
#define SVC_X(code, name, status, retry) {name, status, retry},
    SVC_ERROR_CODES(SVC_X)
#undef SVC_X
};

const char *svc_error_name(svc_ecode e)
{
    return e < SVC_E__COUNT ? svc_errors[e].name : "internal_error";
}

int svc_error_status(svc_ecode e)
{
    return e < SVC_E__COUNT ? svc_errors[e].status : 500;
}

int svc_error_retry_after(svc_ecode e)
{
    return e < SVC_E__COUNT ? svc_errors[e].retry_after : 0;
}
