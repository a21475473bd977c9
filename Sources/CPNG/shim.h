#ifndef MEND_CPNG_SHIM_H
#define MEND_CPNG_SHIM_H
#include <png.h>
#endif
