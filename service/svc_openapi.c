/* svc_openapi: stub, to be written. */
#include "svc_openapi.h"
