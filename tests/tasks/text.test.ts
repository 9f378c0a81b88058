// stripLocationTokens: the plain text of an answer, without <loc>/<seg> tokens.
import { expect, test } from "vitest";
import { stripLocationTokens } from "../../src/tasks/text.js";

test("removes <locNNNN> and <segNNN> tokens and nothing else", () => {
  expect(stripLocationTokens("<loc0256><loc0128><loc0768><loc0896> cat ; <loc0000><loc0001><loc1023><loc0999><seg000><seg127> dog")).toBe(
    " cat ;  dog",
  );
  expect(stripLocationTokens("a cat on a mat")).toBe("a cat on a mat");
  // Not tokens: wrong digit counts and other tags stay.
  expect(stripLocationTokens("<loc123><seg0001><loc 0001><b>x</b>")).toBe("<loc123><seg0001><loc 0001><b>x</b>");
});
