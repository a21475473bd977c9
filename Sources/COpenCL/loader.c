#define _GNU_SOURCE
// Defines the OpenCL and CLBlast functions mend calls, each forwarding to the library opened with
// dlopen (see COpenCL.h). Until a library is loaded, or when it is missing, OpenCL calls return
// CL_PLATFORM_NOT_FOUND_KHR (no platform: mend then runs on the CPU) and CLBlast calls
// CLBlastNotImplemented. The definitions are hidden, so only mend's own calls bind to them;
// CLBlast itself binds to the real libOpenCL it links.
// System headers first, so that only the OpenCL/CLBlast declarations below are hidden.
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#pragma GCC visibility push(hidden)
#include "COpenCL.h"
#pragma GCC visibility pop

#define CL_PLATFORM_NOT_FOUND_KHR_VALUE (-1001)

#pragma GCC visibility push(hidden)
typedef cl_int (CL_API_CALL *clGetPlatformIDs_fn)(cl_uint a, cl_platform_id *b, cl_uint *c);
static clGetPlatformIDs_fn p_clGetPlatformIDs;
cl_int CL_API_CALL clGetPlatformIDs(cl_uint a, cl_platform_id *b, cl_uint *c) {
  if (!p_clGetPlatformIDs) { return CL_PLATFORM_NOT_FOUND_KHR_VALUE; }
  return p_clGetPlatformIDs(a,b,c);
}
typedef cl_int (CL_API_CALL *clGetPlatformInfo_fn)(cl_platform_id a, cl_platform_info b, size_t c, void *d, size_t *e);
static clGetPlatformInfo_fn p_clGetPlatformInfo;
cl_int CL_API_CALL clGetPlatformInfo(cl_platform_id a, cl_platform_info b, size_t c, void *d, size_t *e) {
  if (!p_clGetPlatformInfo) { return CL_PLATFORM_NOT_FOUND_KHR_VALUE; }
  return p_clGetPlatformInfo(a,b,c,d,e);
}
typedef cl_int (CL_API_CALL *clGetDeviceIDs_fn)(cl_platform_id a, cl_device_type b, cl_uint c, cl_device_id *d, cl_uint *e);
static clGetDeviceIDs_fn p_clGetDeviceIDs;
cl_int CL_API_CALL clGetDeviceIDs(cl_platform_id a, cl_device_type b, cl_uint c, cl_device_id *d, cl_uint *e) {
  if (!p_clGetDeviceIDs) { return CL_PLATFORM_NOT_FOUND_KHR_VALUE; }
  return p_clGetDeviceIDs(a,b,c,d,e);
}
typedef cl_int (CL_API_CALL *clGetDeviceInfo_fn)(cl_device_id a, cl_device_info b, size_t c, void *d, size_t *e);
static clGetDeviceInfo_fn p_clGetDeviceInfo;
cl_int CL_API_CALL clGetDeviceInfo(cl_device_id a, cl_device_info b, size_t c, void *d, size_t *e) {
  if (!p_clGetDeviceInfo) { return CL_PLATFORM_NOT_FOUND_KHR_VALUE; }
  return p_clGetDeviceInfo(a,b,c,d,e);
}
typedef cl_context (CL_API_CALL *clCreateContext_fn)(const cl_context_properties *a, cl_uint b, const cl_device_id *c, void (CL_CALLBACK *d)(const char *, const void *, size_t, void *), void *e, cl_int *f);
static clCreateContext_fn p_clCreateContext;
cl_context CL_API_CALL clCreateContext(const cl_context_properties *a, cl_uint b, const cl_device_id *c, void (CL_CALLBACK *d)(const char *, const void *, size_t, void *), void *e, cl_int *f) {
  if (!p_clCreateContext) { if (f) *f = CL_PLATFORM_NOT_FOUND_KHR_VALUE; return NULL; }
  return p_clCreateContext(a,b,c,d,e,f);
}
typedef cl_int (CL_API_CALL *clReleaseContext_fn)(cl_context a);
static clReleaseContext_fn p_clReleaseContext;
cl_int CL_API_CALL clReleaseContext(cl_context a) {
  if (!p_clReleaseContext) { return CL_PLATFORM_NOT_FOUND_KHR_VALUE; }
  return p_clReleaseContext(a);
}
typedef cl_command_queue (CL_API_CALL *clCreateCommandQueue_fn)(cl_context a, cl_device_id b, cl_command_queue_properties c, cl_int *d);
static clCreateCommandQueue_fn p_clCreateCommandQueue;
cl_command_queue CL_API_CALL clCreateCommandQueue(cl_context a, cl_device_id b, cl_command_queue_properties c, cl_int *d) {
  if (!p_clCreateCommandQueue) { if (d) *d = CL_PLATFORM_NOT_FOUND_KHR_VALUE; return NULL; }
  return p_clCreateCommandQueue(a,b,c,d);
}
typedef cl_int (CL_API_CALL *clReleaseCommandQueue_fn)(cl_command_queue a);
static clReleaseCommandQueue_fn p_clReleaseCommandQueue;
cl_int CL_API_CALL clReleaseCommandQueue(cl_command_queue a) {
  if (!p_clReleaseCommandQueue) { return CL_PLATFORM_NOT_FOUND_KHR_VALUE; }
  return p_clReleaseCommandQueue(a);
}
typedef cl_mem (CL_API_CALL *clCreateBuffer_fn)(cl_context a, cl_mem_flags b, size_t c, void *d, cl_int *e);
static clCreateBuffer_fn p_clCreateBuffer;
cl_mem CL_API_CALL clCreateBuffer(cl_context a, cl_mem_flags b, size_t c, void *d, cl_int *e) {
  if (!p_clCreateBuffer) { if (e) *e = CL_PLATFORM_NOT_FOUND_KHR_VALUE; return NULL; }
  return p_clCreateBuffer(a,b,c,d,e);
}
typedef cl_int (CL_API_CALL *clReleaseMemObject_fn)(cl_mem a);
static clReleaseMemObject_fn p_clReleaseMemObject;
cl_int CL_API_CALL clReleaseMemObject(cl_mem a) {
  if (!p_clReleaseMemObject) { return CL_PLATFORM_NOT_FOUND_KHR_VALUE; }
  return p_clReleaseMemObject(a);
}
typedef cl_program (CL_API_CALL *clCreateProgramWithSource_fn)(cl_context a, cl_uint b, const char **c, const size_t *d, cl_int *e);
static clCreateProgramWithSource_fn p_clCreateProgramWithSource;
cl_program CL_API_CALL clCreateProgramWithSource(cl_context a, cl_uint b, const char **c, const size_t *d, cl_int *e) {
  if (!p_clCreateProgramWithSource) { if (e) *e = CL_PLATFORM_NOT_FOUND_KHR_VALUE; return NULL; }
  return p_clCreateProgramWithSource(a,b,c,d,e);
}
typedef cl_program (CL_API_CALL *clCreateProgramWithBinary_fn)(cl_context a, cl_uint b, const cl_device_id *c, const size_t *d, const unsigned char **e, cl_int *f, cl_int *g);
static clCreateProgramWithBinary_fn p_clCreateProgramWithBinary;
cl_program CL_API_CALL clCreateProgramWithBinary(cl_context a, cl_uint b, const cl_device_id *c, const size_t *d, const unsigned char **e, cl_int *f, cl_int *g) {
  if (!p_clCreateProgramWithBinary) { if (g) *g = CL_PLATFORM_NOT_FOUND_KHR_VALUE; return NULL; }
  return p_clCreateProgramWithBinary(a,b,c,d,e,f,g);
}
typedef cl_int (CL_API_CALL *clReleaseProgram_fn)(cl_program a);
static clReleaseProgram_fn p_clReleaseProgram;
cl_int CL_API_CALL clReleaseProgram(cl_program a) {
  if (!p_clReleaseProgram) { return CL_PLATFORM_NOT_FOUND_KHR_VALUE; }
  return p_clReleaseProgram(a);
}
typedef cl_int (CL_API_CALL *clBuildProgram_fn)(cl_program a, cl_uint b, const cl_device_id *c, const char *d, void (CL_CALLBACK *e)(cl_program, void *), void *f);
static clBuildProgram_fn p_clBuildProgram;
cl_int CL_API_CALL clBuildProgram(cl_program a, cl_uint b, const cl_device_id *c, const char *d, void (CL_CALLBACK *e)(cl_program, void *), void *f) {
  if (!p_clBuildProgram) { return CL_PLATFORM_NOT_FOUND_KHR_VALUE; }
  return p_clBuildProgram(a,b,c,d,e,f);
}
typedef cl_int (CL_API_CALL *clGetProgramInfo_fn)(cl_program a, cl_program_info b, size_t c, void *d, size_t *e);
static clGetProgramInfo_fn p_clGetProgramInfo;
cl_int CL_API_CALL clGetProgramInfo(cl_program a, cl_program_info b, size_t c, void *d, size_t *e) {
  if (!p_clGetProgramInfo) { return CL_PLATFORM_NOT_FOUND_KHR_VALUE; }
  return p_clGetProgramInfo(a,b,c,d,e);
}
typedef cl_int (CL_API_CALL *clGetProgramBuildInfo_fn)(cl_program a, cl_device_id b, cl_program_build_info c, size_t d, void *e, size_t *f);
static clGetProgramBuildInfo_fn p_clGetProgramBuildInfo;
cl_int CL_API_CALL clGetProgramBuildInfo(cl_program a, cl_device_id b, cl_program_build_info c, size_t d, void *e, size_t *f) {
  if (!p_clGetProgramBuildInfo) { return CL_PLATFORM_NOT_FOUND_KHR_VALUE; }
  return p_clGetProgramBuildInfo(a,b,c,d,e,f);
}
typedef cl_kernel (CL_API_CALL *clCreateKernel_fn)(cl_program a, const char *b, cl_int *c);
static clCreateKernel_fn p_clCreateKernel;
cl_kernel CL_API_CALL clCreateKernel(cl_program a, const char *b, cl_int *c) {
  if (!p_clCreateKernel) { if (c) *c = CL_PLATFORM_NOT_FOUND_KHR_VALUE; return NULL; }
  return p_clCreateKernel(a,b,c);
}
typedef cl_int (CL_API_CALL *clReleaseKernel_fn)(cl_kernel a);
static clReleaseKernel_fn p_clReleaseKernel;
cl_int CL_API_CALL clReleaseKernel(cl_kernel a) {
  if (!p_clReleaseKernel) { return CL_PLATFORM_NOT_FOUND_KHR_VALUE; }
  return p_clReleaseKernel(a);
}
typedef cl_int (CL_API_CALL *clSetKernelArg_fn)(cl_kernel a, cl_uint b, size_t c, const void *d);
static clSetKernelArg_fn p_clSetKernelArg;
cl_int CL_API_CALL clSetKernelArg(cl_kernel a, cl_uint b, size_t c, const void *d) {
  if (!p_clSetKernelArg) { return CL_PLATFORM_NOT_FOUND_KHR_VALUE; }
  return p_clSetKernelArg(a,b,c,d);
}
typedef cl_int (CL_API_CALL *clReleaseEvent_fn)(cl_event a);
static clReleaseEvent_fn p_clReleaseEvent;
cl_int CL_API_CALL clReleaseEvent(cl_event a) {
  if (!p_clReleaseEvent) { return CL_PLATFORM_NOT_FOUND_KHR_VALUE; }
  return p_clReleaseEvent(a);
}
typedef cl_int (CL_API_CALL *clFinish_fn)(cl_command_queue a);
static clFinish_fn p_clFinish;
cl_int CL_API_CALL clFinish(cl_command_queue a) {
  if (!p_clFinish) { return CL_PLATFORM_NOT_FOUND_KHR_VALUE; }
  return p_clFinish(a);
}
typedef cl_int (CL_API_CALL *clEnqueueReadBuffer_fn)(cl_command_queue a, cl_mem b, cl_bool c, size_t d, size_t e, void *f, cl_uint g, const cl_event *h, cl_event *i);
static clEnqueueReadBuffer_fn p_clEnqueueReadBuffer;
cl_int CL_API_CALL clEnqueueReadBuffer(cl_command_queue a, cl_mem b, cl_bool c, size_t d, size_t e, void *f, cl_uint g, const cl_event *h, cl_event *i) {
  if (!p_clEnqueueReadBuffer) { return CL_PLATFORM_NOT_FOUND_KHR_VALUE; }
  return p_clEnqueueReadBuffer(a,b,c,d,e,f,g,h,i);
}
typedef cl_int (CL_API_CALL *clEnqueueWriteBuffer_fn)(cl_command_queue a, cl_mem b, cl_bool c, size_t d, size_t e, const void *f, cl_uint g, const cl_event *h, cl_event *i);
static clEnqueueWriteBuffer_fn p_clEnqueueWriteBuffer;
cl_int CL_API_CALL clEnqueueWriteBuffer(cl_command_queue a, cl_mem b, cl_bool c, size_t d, size_t e, const void *f, cl_uint g, const cl_event *h, cl_event *i) {
  if (!p_clEnqueueWriteBuffer) { return CL_PLATFORM_NOT_FOUND_KHR_VALUE; }
  return p_clEnqueueWriteBuffer(a,b,c,d,e,f,g,h,i);
}
typedef cl_int (CL_API_CALL *clEnqueueFillBuffer_fn)(cl_command_queue a, cl_mem b, const void *c, size_t d, size_t e, size_t f, cl_uint g, const cl_event *h, cl_event *i);
static clEnqueueFillBuffer_fn p_clEnqueueFillBuffer;
cl_int CL_API_CALL clEnqueueFillBuffer(cl_command_queue a, cl_mem b, const void *c, size_t d, size_t e, size_t f, cl_uint g, const cl_event *h, cl_event *i) {
  if (!p_clEnqueueFillBuffer) { return CL_PLATFORM_NOT_FOUND_KHR_VALUE; }
  return p_clEnqueueFillBuffer(a,b,c,d,e,f,g,h,i);
}
typedef cl_int (CL_API_CALL *clEnqueueNDRangeKernel_fn)(cl_command_queue a, cl_kernel b, cl_uint c, const size_t *d, const size_t *e, const size_t *f, cl_uint g, const cl_event *h, cl_event *i);
static clEnqueueNDRangeKernel_fn p_clEnqueueNDRangeKernel;
cl_int CL_API_CALL clEnqueueNDRangeKernel(cl_command_queue a, cl_kernel b, cl_uint c, const size_t *d, const size_t *e, const size_t *f, cl_uint g, const cl_event *h, cl_event *i) {
  if (!p_clEnqueueNDRangeKernel) { return CL_PLATFORM_NOT_FOUND_KHR_VALUE; }
  return p_clEnqueueNDRangeKernel(a,b,c,d,e,f,g,h,i);
}
typedef CLBlastStatusCode (CL_API_CALL *CLBlastSgemm_fn)(const CLBlastLayout a, const CLBlastTranspose b, const CLBlastTranspose c, const size_t d, const size_t e, const size_t f, const float g, const cl_mem h, const size_t i, const size_t j, const cl_mem k, const size_t l, const size_t m, const float n, cl_mem o, const size_t p, const size_t q, cl_command_queue *r, cl_event *s);
static CLBlastSgemm_fn p_CLBlastSgemm;
CLBlastStatusCode CL_API_CALL CLBlastSgemm(const CLBlastLayout a, const CLBlastTranspose b, const CLBlastTranspose c, const size_t d, const size_t e, const size_t f, const float g, const cl_mem h, const size_t i, const size_t j, const cl_mem k, const size_t l, const size_t m, const float n, cl_mem o, const size_t p, const size_t q, cl_command_queue *r, cl_event *s) {
  if (!p_CLBlastSgemm) { return CLBlastNotImplemented; }
  return p_CLBlastSgemm(a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s);
}
typedef CLBlastStatusCode (CL_API_CALL *CLBlastSgemmWithTempBuffer_fn)(const CLBlastLayout a, const CLBlastTranspose b, const CLBlastTranspose c, const size_t d, const size_t e, const size_t f, const float g, const cl_mem h, const size_t i, const size_t j, const cl_mem k, const size_t l, const size_t m, const float n, cl_mem o, const size_t p, const size_t q, cl_command_queue *r, cl_event *s, cl_mem t);
static CLBlastSgemmWithTempBuffer_fn p_CLBlastSgemmWithTempBuffer;
CLBlastStatusCode CL_API_CALL CLBlastSgemmWithTempBuffer(const CLBlastLayout a, const CLBlastTranspose b, const CLBlastTranspose c, const size_t d, const size_t e, const size_t f, const float g, const cl_mem h, const size_t i, const size_t j, const cl_mem k, const size_t l, const size_t m, const float n, cl_mem o, const size_t p, const size_t q, cl_command_queue *r, cl_event *s, cl_mem t) {
  if (!p_CLBlastSgemmWithTempBuffer) { return CLBlastNotImplemented; }
  return p_CLBlastSgemmWithTempBuffer(a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,t);
}
typedef CLBlastStatusCode (CL_API_CALL *CLBlastSGemmTempBufferSize_fn)(const CLBlastLayout a, const CLBlastTranspose b, const CLBlastTranspose c, const size_t d, const size_t e, const size_t f, const size_t g, const size_t h, const size_t i, const size_t j, const size_t k, const size_t l, cl_command_queue *m, size_t *n);
static CLBlastSGemmTempBufferSize_fn p_CLBlastSGemmTempBufferSize;
CLBlastStatusCode CL_API_CALL CLBlastSGemmTempBufferSize(const CLBlastLayout a, const CLBlastTranspose b, const CLBlastTranspose c, const size_t d, const size_t e, const size_t f, const size_t g, const size_t h, const size_t i, const size_t j, const size_t k, const size_t l, cl_command_queue *m, size_t *n) {
  if (!p_CLBlastSGemmTempBufferSize) { return CLBlastNotImplemented; }
  return p_CLBlastSGemmTempBufferSize(a,b,c,d,e,f,g,h,i,j,k,l,m,n);
}
typedef CLBlastStatusCode (CL_API_CALL *CLBlastSgemmStridedBatched_fn)(const CLBlastLayout a, const CLBlastTranspose b, const CLBlastTranspose c, const size_t d, const size_t e, const size_t f, const float g, const cl_mem h, const size_t i, const size_t j, const size_t j2, const cl_mem k, const size_t l, const size_t m, const size_t m2, const float n, cl_mem o, const size_t p, const size_t q, const size_t q2, const size_t bc, cl_command_queue *r, cl_event *s);
static CLBlastSgemmStridedBatched_fn p_CLBlastSgemmStridedBatched;
CLBlastStatusCode CL_API_CALL CLBlastSgemmStridedBatched(const CLBlastLayout a, const CLBlastTranspose b, const CLBlastTranspose c, const size_t d, const size_t e, const size_t f, const float g, const cl_mem h, const size_t i, const size_t j, const size_t j2, const cl_mem k, const size_t l, const size_t m, const size_t m2, const float n, cl_mem o, const size_t p, const size_t q, const size_t q2, const size_t bc, cl_command_queue *r, cl_event *s) {
  if (!p_CLBlastSgemmStridedBatched) { return CLBlastNotImplemented; }
  return p_CLBlastSgemmStridedBatched(a,b,c,d,e,f,g,h,i,j,j2,k,l,m,m2,n,o,p,q,q2,bc,r,s);
}
#pragma GCC visibility pop

// Extension functions (cl_khr_command_buffer) are looked up per platform through the loader; the
// lookup itself is optional (an OpenCL 1.1 loader lacks it: no extensions then).
typedef void *(CL_API_CALL *clGetExtensionFunctionAddressForPlatform_fn)(cl_platform_id a, const char *b);
static clGetExtensionFunctionAddressForPlatform_fn p_clGetExtensionFunctionAddressForPlatform;
void *mend_opencl_extension_function(cl_platform_id platform, const char *name) {
  if (!p_clGetExtensionFunctionAddressForPlatform) return NULL;
  return p_clGetExtensionFunctionAddressForPlatform(platform, name);
}

// libOpenCL is opened into the global scope and mend's calls resolve through it, so a tool
// interposed with LD_PRELOAD (an OpenCL call counter) sees them as it would in a linked binary.
static void *resolve(void *h, const char *name) {
  void *f = dlsym(RTLD_DEFAULT, name);
  return f ? f : dlsym(h, name);
}

static pthread_once_t opencl_once = PTHREAD_ONCE_INIT;
static char opencl_error[512];
static int opencl_ok;

static void opencl_open(void) {
  char *why = opencl_error;
  const char *candidates[] = {getenv("MEND_OPENCL_LIBRARY"), "libOpenCL.so.1", "libOpenCL.so"};
  void *h = NULL;
  const char *used = NULL;
  // An explicit path is the only one tried.
  unsigned n = candidates[0] && *candidates[0] ? 1 : sizeof candidates / sizeof *candidates;
  for (unsigned i = 0; i < n && !h; i++) {
    if (!candidates[i] || !*candidates[i]) continue;
    h = dlopen(candidates[i], RTLD_NOW | RTLD_GLOBAL);
    used = candidates[i];
  }
  if (!h) {
    snprintf(why, sizeof opencl_error, "%s not found", getenv("MEND_OPENCL_LIBRARY") && *getenv("MEND_OPENCL_LIBRARY") ? getenv("MEND_OPENCL_LIBRARY") : "libOpenCL.so.1");
    return;
  }
  if (!(p_clGetPlatformIDs = (clGetPlatformIDs_fn)resolve(h, "clGetPlatformIDs"))) { snprintf(why, sizeof opencl_error, "%s lacks clGetPlatformIDs", used); return; }
  if (!(p_clGetPlatformInfo = (clGetPlatformInfo_fn)resolve(h, "clGetPlatformInfo"))) { snprintf(why, sizeof opencl_error, "%s lacks clGetPlatformInfo", used); return; }
  if (!(p_clGetDeviceIDs = (clGetDeviceIDs_fn)resolve(h, "clGetDeviceIDs"))) { snprintf(why, sizeof opencl_error, "%s lacks clGetDeviceIDs", used); return; }
  if (!(p_clGetDeviceInfo = (clGetDeviceInfo_fn)resolve(h, "clGetDeviceInfo"))) { snprintf(why, sizeof opencl_error, "%s lacks clGetDeviceInfo", used); return; }
  if (!(p_clCreateContext = (clCreateContext_fn)resolve(h, "clCreateContext"))) { snprintf(why, sizeof opencl_error, "%s lacks clCreateContext", used); return; }
  if (!(p_clReleaseContext = (clReleaseContext_fn)resolve(h, "clReleaseContext"))) { snprintf(why, sizeof opencl_error, "%s lacks clReleaseContext", used); return; }
  if (!(p_clCreateCommandQueue = (clCreateCommandQueue_fn)resolve(h, "clCreateCommandQueue"))) { snprintf(why, sizeof opencl_error, "%s lacks clCreateCommandQueue", used); return; }
  if (!(p_clReleaseCommandQueue = (clReleaseCommandQueue_fn)resolve(h, "clReleaseCommandQueue"))) { snprintf(why, sizeof opencl_error, "%s lacks clReleaseCommandQueue", used); return; }
  if (!(p_clCreateBuffer = (clCreateBuffer_fn)resolve(h, "clCreateBuffer"))) { snprintf(why, sizeof opencl_error, "%s lacks clCreateBuffer", used); return; }
  if (!(p_clReleaseMemObject = (clReleaseMemObject_fn)resolve(h, "clReleaseMemObject"))) { snprintf(why, sizeof opencl_error, "%s lacks clReleaseMemObject", used); return; }
  if (!(p_clCreateProgramWithSource = (clCreateProgramWithSource_fn)resolve(h, "clCreateProgramWithSource"))) { snprintf(why, sizeof opencl_error, "%s lacks clCreateProgramWithSource", used); return; }
  if (!(p_clCreateProgramWithBinary = (clCreateProgramWithBinary_fn)resolve(h, "clCreateProgramWithBinary"))) { snprintf(why, sizeof opencl_error, "%s lacks clCreateProgramWithBinary", used); return; }
  if (!(p_clReleaseProgram = (clReleaseProgram_fn)resolve(h, "clReleaseProgram"))) { snprintf(why, sizeof opencl_error, "%s lacks clReleaseProgram", used); return; }
  if (!(p_clBuildProgram = (clBuildProgram_fn)resolve(h, "clBuildProgram"))) { snprintf(why, sizeof opencl_error, "%s lacks clBuildProgram", used); return; }
  if (!(p_clGetProgramInfo = (clGetProgramInfo_fn)resolve(h, "clGetProgramInfo"))) { snprintf(why, sizeof opencl_error, "%s lacks clGetProgramInfo", used); return; }
  if (!(p_clGetProgramBuildInfo = (clGetProgramBuildInfo_fn)resolve(h, "clGetProgramBuildInfo"))) { snprintf(why, sizeof opencl_error, "%s lacks clGetProgramBuildInfo", used); return; }
  if (!(p_clCreateKernel = (clCreateKernel_fn)resolve(h, "clCreateKernel"))) { snprintf(why, sizeof opencl_error, "%s lacks clCreateKernel", used); return; }
  if (!(p_clReleaseKernel = (clReleaseKernel_fn)resolve(h, "clReleaseKernel"))) { snprintf(why, sizeof opencl_error, "%s lacks clReleaseKernel", used); return; }
  if (!(p_clSetKernelArg = (clSetKernelArg_fn)resolve(h, "clSetKernelArg"))) { snprintf(why, sizeof opencl_error, "%s lacks clSetKernelArg", used); return; }
  if (!(p_clReleaseEvent = (clReleaseEvent_fn)resolve(h, "clReleaseEvent"))) { snprintf(why, sizeof opencl_error, "%s lacks clReleaseEvent", used); return; }
  if (!(p_clFinish = (clFinish_fn)resolve(h, "clFinish"))) { snprintf(why, sizeof opencl_error, "%s lacks clFinish", used); return; }
  if (!(p_clEnqueueReadBuffer = (clEnqueueReadBuffer_fn)resolve(h, "clEnqueueReadBuffer"))) { snprintf(why, sizeof opencl_error, "%s lacks clEnqueueReadBuffer", used); return; }
  if (!(p_clEnqueueWriteBuffer = (clEnqueueWriteBuffer_fn)resolve(h, "clEnqueueWriteBuffer"))) { snprintf(why, sizeof opencl_error, "%s lacks clEnqueueWriteBuffer", used); return; }
  if (!(p_clEnqueueFillBuffer = (clEnqueueFillBuffer_fn)resolve(h, "clEnqueueFillBuffer"))) { snprintf(why, sizeof opencl_error, "%s lacks clEnqueueFillBuffer", used); return; }
  if (!(p_clEnqueueNDRangeKernel = (clEnqueueNDRangeKernel_fn)resolve(h, "clEnqueueNDRangeKernel"))) { snprintf(why, sizeof opencl_error, "%s lacks clEnqueueNDRangeKernel", used); return; }
  p_clGetExtensionFunctionAddressForPlatform =
      (clGetExtensionFunctionAddressForPlatform_fn)resolve(h, "clGetExtensionFunctionAddressForPlatform");
  opencl_ok = 1;
}

int mend_opencl_load(char *err, unsigned long errlen) {
  pthread_once(&opencl_once, opencl_open);
  if (!opencl_ok && err && errlen) snprintf(err, errlen, "%s", opencl_error);
  return opencl_ok;
}

static pthread_once_t clblast_once = PTHREAD_ONCE_INIT;
static char clblast_error[512];
static int clblast_ok;

static void clblast_open(void) {
  char *why = clblast_error;
  const char *candidates[] = {getenv("MEND_CLBLAST_LIBRARY"), "libclblast.so.1", "libclblast.so"};
  void *h = NULL;
  const char *used = NULL;
  // An explicit path is the only one tried.
  unsigned n = candidates[0] && *candidates[0] ? 1 : sizeof candidates / sizeof *candidates;
  for (unsigned i = 0; i < n && !h; i++) {
    if (!candidates[i] || !*candidates[i]) continue;
    h = dlopen(candidates[i], RTLD_NOW | RTLD_LOCAL);
    used = candidates[i];
  }
  if (!h) {
    snprintf(why, sizeof clblast_error, "%s not found", getenv("MEND_CLBLAST_LIBRARY") && *getenv("MEND_CLBLAST_LIBRARY") ? getenv("MEND_CLBLAST_LIBRARY") : "libclblast.so.1");
    return;
  }
  if (!(p_CLBlastSgemm = (CLBlastSgemm_fn)dlsym(h, "CLBlastSgemm"))) { snprintf(why, sizeof clblast_error, "%s lacks CLBlastSgemm", used); return; }
  if (!(p_CLBlastSgemmWithTempBuffer = (CLBlastSgemmWithTempBuffer_fn)dlsym(h, "CLBlastSgemmWithTempBuffer"))) { snprintf(why, sizeof clblast_error, "%s lacks CLBlastSgemmWithTempBuffer", used); return; }
  if (!(p_CLBlastSGemmTempBufferSize = (CLBlastSGemmTempBufferSize_fn)dlsym(h, "CLBlastSGemmTempBufferSize"))) { snprintf(why, sizeof clblast_error, "%s lacks CLBlastSGemmTempBufferSize", used); return; }
  if (!(p_CLBlastSgemmStridedBatched = (CLBlastSgemmStridedBatched_fn)dlsym(h, "CLBlastSgemmStridedBatched"))) { snprintf(why, sizeof clblast_error, "%s lacks CLBlastSgemmStridedBatched", used); return; }
  clblast_ok = 1;
}

int mend_clblast_load(char *err, unsigned long errlen) {
  pthread_once(&clblast_once, clblast_open);
  if (!clblast_ok && err && errlen) snprintf(err, errlen, "%s", clblast_error);
  return clblast_ok;
}
