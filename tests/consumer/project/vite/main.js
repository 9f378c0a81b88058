// A default vite app (no vite config): the demo model shipped in the package, run in the
// SDK's worker engine; then the same model as a folder URL on vite's own server, whose SPA
// fallback answers every missing file with index.html.
import { PaliGemma } from "paligemma-edge";
import { demoImage, demoModel, demoShapes } from "paligemma-edge/demo";

const params = new URLSearchParams(location.search);
const device = params.get("device") ?? "wasm";
const maxNewTokens = Number(params.get("tokens") ?? 64);
const $ = (id) => document.getElementById(id);

try {
  $("image").src = demoImage.href;
  const pg = await PaliGemma.load(demoModel, { worker: true, device });
  $("device").textContent = pg.device;
  for await (const piece of pg.stream(demoImage.href, "caption en", { maxNewTokens })) $("caption").textContent += piece;
  if (device === "wasm") {
    for (const { label, box } of await pg.detect(demoImage.href, [...demoShapes])) {
      const li = document.createElement("li");
      li.textContent = `${label} ${box.x0} ${box.y0} ${box.x1} ${box.y1}`;
      $("boxes").append(li);
    }
    // public/demo/ holds the model's three files and nothing else.
    const folder = await PaliGemma.load(new URL("/demo/", location.href), { device: "wasm" });
    $("folder").textContent = (await folder.caption(demoImage.href, { maxNewTokens })).text;
    folder.dispose();
    await PaliGemma.load(new URL("/no-such-model/", location.href), { device: "wasm" }).catch((e) => ($("missing").textContent = `${e.name} ${e.code}: ${e.message}`));
  }
  pg.dispose();
  document.body.dataset.state = "done";
} catch (e) {
  $("error").textContent = `${e.code ?? e.name}: ${e.message}`;
  document.body.dataset.state = "error";
}
