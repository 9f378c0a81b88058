// Compiles each AssemblyScript entry (assembly/<name>.ts) to src/wasm/<name>.wasm,
// where src/wasm/load.ts finds it next to itself (rollup copies it into dist/).
// "cpu" is built four times: cpu.wasm with its own memory; cpu-mt.wasm, the same
// kernels on an imported shared memory for the WASM backend's thread pool; and both
// again with relaxed SIMD (cpu-relaxed, cpu-mt-relaxed: the q8/q4 GEMV's integer dot
// products), which the backend picks where the engine validates them.
import { execFileSync } from "node:child_process";

const modules = process.argv.slice(2).length ? process.argv.slice(2) : [];
const target = process.env.ASC_TARGET ?? "release";
const shared = ["--importMemory", "--sharedMemory", "--maximumMemory", "65536", "--enable", "threads"];
const relaxed = ["--enable", "relaxed-simd"];
const variants = {
  cpu: { "cpu-mt": shared, "cpu-relaxed": relaxed, "cpu-mt-relaxed": [...shared, ...relaxed] },
};
for (const name of modules) {
  const builds = { [name]: [], ...variants[name] };
  for (const [out, flags] of Object.entries(builds)) {
    execFileSync(
      "npx",
      ["asc", `assembly/${name}.ts`, "--config", "asconfig.json", "--target", target, ...flags, "-o", `src/wasm/${out}.wasm`],
      { stdio: "inherit" },
    );
  }
}
