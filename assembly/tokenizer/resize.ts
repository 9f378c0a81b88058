// heap.realloc refuses a null pointer; the tokenizer's buffers start out null and grow.
export function resize(ptr: usize, bytes: usize): usize {
  return ptr ? heap.realloc(ptr, bytes) : heap.alloc(bytes);
}
