// Run by deno-webgpu.test.ts under Deno with no permissions: the rms-norm case arrives
// as JSON on stdin, the adapter and output leave as JSON on stdout.
import { runOnNavigatorGpu } from "../rms-norm-run.js";

const input = await new Response(Deno.stdin.readable).json();
console.log(JSON.stringify(await runOnNavigatorGpu(input)));
