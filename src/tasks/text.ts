// PaliGemma answers "detect" and "segment" prompts with special tokens in the text:
// <loc0000>…<loc1023> (box corners) and <seg000>…<seg127> (mask codes). Parsers read
// them from the decoded text (detect.ts, segment.ts); the plain `text` a caller sees
// has them removed (the ids stay in `tokenIds`).

const LOCATION_TOKEN = /<loc\d{4}>|<seg\d{3}>/g;

/** `text` without its <locNNNN> and <segNNN> tokens; everything else is kept as is. */
export function stripLocationTokens(text: string): string {
  return text.replace(LOCATION_TOKEN, "");
}
