// The CLI's stderr relay (examples/node/dawn-warnings.ts) drops Dawn's warnings about the
// Vulkan drivers it turns down and passes everything else, however the pipe cuts the text.
import { describe, expect, it } from "vitest";
import { dawnWarningFilter } from "../../examples/node/dawn-warnings.js";

// What Dawn 0.6.2 (npm webgpu) printed here for Mesa's lavapipe, verbatim.
const DAWN = `Warning: Vulkan shaderUniform*ArrayDynamicIndexing required.
 - While initializing adapter (backend=BackendType::Vulkan)
    at InitializeImpl (/home/runner/work/node-webgpu/node-webgpu/third_party/dawn/src/dawn/native/vulkan/PhysicalDeviceVk.cpp:257)

`;
const NOTE = "note: the bundled demo model\n";
const OTHER = "Warning: something else\n - of the user's own\n\n";
const PROGRESS = ["\r\x1b[2Kmodel.safetensors [###...] 10% 0.3/3.0 MB", "\r\x1b[2Kmodel.safetensors [######] 100% 3.0/3.0 MB", "\n"];

/** The filter's output for `chunks`, and what it had passed after each chunk. */
function relay(chunks: string[]): { out: string; after: string[] } {
  let out = "";
  const filter = dawnWarningFilter((t) => (out += t));
  const after = chunks.map((c) => (filter.write(c), out));
  filter.end();
  return { out, after };
}

/** `text` cut at every `step`th character. */
const cut = (text: string, step: number) => Array.from({ length: Math.ceil(text.length / step) }, (_, i) => text.slice(i * step, (i + 1) * step));

describe("the CLI's stderr relay", () => {
  const input = NOTE + DAWN + DAWN + OTHER + PROGRESS.join("") + "model loaded on wasm in 0.3 s\n" + "tail without newline";
  const want = NOTE + OTHER + PROGRESS.join("") + "model loaded on wasm in 0.3 s\n" + "tail without newline";

  it.each([1, 2, 3, 7, 40, input.length])("drops Dawn's blocks only, the text cut every %i characters", (step) => {
    expect(relay(cut(input, step)).out).toBe(want);
  });

  it("passes a progress bar's redraw at once, before its line ends", () => {
    const { after } = relay([NOTE, ...PROGRESS]);
    expect(after[1]).toBe(NOTE + PROGRESS[0]);
    expect(after[2]).toBe(NOTE + PROGRESS[0] + PROGRESS[1]);
  });

  it("holds a Warning line only until it shows whose it is", () => {
    const { after } = relay(["Warning: disk almost full\n", "next\n"]);
    expect(after).toEqual(["", "Warning: disk almost full\nnext\n"]);
  });
});
