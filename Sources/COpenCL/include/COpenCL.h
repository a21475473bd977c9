#ifndef MEND_COPENCL_H
#define MEND_COPENCL_H
// The OpenCL 1.2 and CLBlast C APIs as mend uses them. Nothing is linked at build time: the
// functions mend calls are defined in loader.c, which opens libOpenCL and libclblast with dlopen on
// first use, so one binary runs on hosts with and without OpenCL (CPU path only there).
#define CL_TARGET_OPENCL_VERSION 120
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#include <CL/cl.h>
#include <clblast_c.h>

/// Opens the OpenCL ICD loader ($MEND_OPENCL_LIBRARY, else libOpenCL.so.1, else libOpenCL.so).
/// Returns 1 when every function mend needs was found; else 0 with a one-line reason in `err`.
int mend_opencl_load(char *err, unsigned long errlen);
/// An extension function of `platform` (clGetExtensionFunctionAddressForPlatform), or NULL.
void *mend_opencl_extension_function(cl_platform_id platform, const char *name);
/// Opens CLBlast ($MEND_CLBLAST_LIBRARY, else libclblast.so.1, else libclblast.so); as above.
int mend_clblast_load(char *err, unsigned long errlen);
#endif
