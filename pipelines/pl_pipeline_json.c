/* pl_pipeline_json: stub, to be written. */
#include "pl_options.h"
