// Where the JS allocator (src/backends/wasm/allocator.ts) may start: everything
// below __heap_base is this module's static data. The kernels never allocate, so
// AssemblyScript's own heap is never initialised and the JS side owns all of it.
export function heapBase(): usize {
  return __heap_base;
}
