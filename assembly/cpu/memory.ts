// Where the JS allocator (src/backends/wasm/allocator.ts) may start: everything
// below __heap_base is this module's static data. The kernels never allocate, so
// AssemblyScript's own heap is never initialised and the JS side owns all of it.
export function heapBase(): usize {
  return __heap_base;
}

// Threads (src/backends/wasm/threads.ts) are instances of this module on one shared
// memory: globals are per instance, memory is not. So static scratch that a kernel
// run on several threads at once writes is sized for MAX_THREADS and indexed by
// this instance's thread number, which the pool sets once per worker.

/** The most threads the pool may run. */
export const MAX_THREADS = 8;

let thread: usize = 0;

/** Makes this instance thread i (0 = the thread that owns the backend). */
export function setThread(i: i32): void {
  thread = <usize>i;
}

/** This thread's slice of a static region of `bytes` per thread. */
@inline
export function perThread(base: usize, bytes: usize): usize {
  return base + thread * bytes;
}
