// workerd (and bundlers for it: wrangler, esbuild's CompiledWasm rule) turn a .wasm
// import into a compiled module, since compiling WebAssembly from bytes is forbidden there.
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}
