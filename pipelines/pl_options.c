/* pl_options: stub, to be written. */
#include "pl_options.h"
