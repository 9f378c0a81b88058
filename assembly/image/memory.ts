// Buffers the JS side owns inside this module's memory. Callers allocate once,
// reuse across calls, and release when done: the kernels never allocate.

export function allocate(bytes: usize): usize {
  return heap.alloc(bytes);
}

export function release(ptr: usize): void {
  heap.free(ptr);
}
