// Every error the SDK throws at its public boundary is a PaliGemmaError with a
// stable `code` a caller can switch on; the message says what was wrong and what
// was expected. Internal invariants use plain assertions instead.

// Each class sets its `name` itself: a minifying bundler renames classes, so the class's
// own name (new.target.name) would read "A" or "k" in a consumer's production build.
export class PaliGemmaError extends Error {
  override readonly name: string = "PaliGemmaError";
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** config.json (or generation_config.json) is missing a field or holds an impossible value. */
export class ConfigError extends PaliGemmaError {
  override readonly name: string = "ConfigError";
  constructor(message: string) {
    super("INVALID_CONFIG", message);
  }
}

/** A checkpoint file is truncated, lies about offsets, or lacks/misshapes a tensor. */
export class WeightsError extends PaliGemmaError {
  override readonly name: string = "WeightsError";
  constructor(message: string) {
    super("INVALID_WEIGHTS", message);
  }
}

/** A model file could not be fetched or read. */
export class LoadError extends PaliGemmaError {
  override readonly name: string = "LoadError";
  constructor(message: string) {
    super("LOAD_FAILED", message);
  }
}

/** A cache entry could not be deleted: another load (process, tab or this one) is downloading into it. */
export class CacheBusyError extends PaliGemmaError {
  override readonly name: string = "CacheBusyError";
  constructor(message: string) {
    super("CACHE_BUSY", message);
  }
}

/** The hub refused a download (HTTP 401/403): a gated or private repository and no token, or one without access. */
export class AuthError extends LoadError {
  override readonly name: string = "AuthError";
  override readonly code = "AUTH_REQUIRED";
}

/** A call's arguments are wrong (shapes, counts, options). */
export class InputError extends PaliGemmaError {
  override readonly name: string = "InputError";
  constructor(message: string) {
    super("INVALID_INPUT", message);
  }
}

/** An AbortSignal the caller passed was aborted: `what` ("generation", "loading") stopped. */
export class AbortedError extends PaliGemmaError {
  override readonly name: string = "AbortedError";
  constructor(what = "generation") {
    super("ABORTED", `${what} was aborted by its AbortSignal`);
  }
}

/** The model was used after dispose(), or disposed while a call was using it (`during` says which call). */
export class DisposedError extends PaliGemmaError {
  override readonly name: string = "DisposedError";
  constructor(what: string, during?: string) {
    super("DISPOSED", during ? `${what} was disposed during ${during}: dispose() ends the calls in flight` : `${what} was used after dispose()`);
  }
}

/** An image is empty, truncated, corrupt, or its pixel buffer does not match its size. */
export class ImageError extends PaliGemmaError {
  override readonly name: string = "ImageError";
  constructor(message: string) {
    super("INVALID_IMAGE", message);
  }
}

/**
 * An image whose declared size (width × height) is above the limit (`maxImagePixels`),
 * refused from its header before anything is decoded or allocated.
 */
export class ImageTooLargeError extends ImageError {
  override readonly name: string = "ImageTooLargeError";
  override readonly code = "IMAGE_TOO_LARGE";
  constructor(
    what: string,
    readonly width: number,
    readonly height: number,
    readonly maxPixels: number,
  ) {
    const count = (n: number) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ","); // 100,000,000
    super(
      `${what} is ${width}x${height} (${count(width * height)} pixels), above the limit of ${count(maxPixels)}: ` +
        "shrink it first, or raise the maxImagePixels option",
    );
  }
}

/**
 * Encoded bytes in a format the SDK does not decode (it decodes PNG, JPEG and WebP), or
 * a variant of one it does not (CMYK JPEG). `what` names what was found.
 */
export class UnsupportedImageFormatError extends PaliGemmaError {
  override readonly name: string = "UnsupportedImageFormatError";
  constructor(what: string, todo = "pass PNG, JPEG or WebP bytes, or decoded pixels ({ width, height, data })") {
    super("UNSUPPORTED_IMAGE_FORMAT", `${what}: ${todo}`);
  }
}

/** A tokenizer.json is not valid JSON, is not a BPE tokenizer, or lacks what PaliGemma needs. */
export class TokenizerError extends PaliGemmaError {
  override readonly name: string = "TokenizerError";
  constructor(message: string) {
    super("INVALID_TOKENIZER", message);
  }
}

/** A WASM backend worker thread failed (its kernel trapped) or stopped answering; the backend cannot be used further. */
export class ThreadError extends PaliGemmaError {
  override readonly name: string = "ThreadError";
  constructor(message: string) {
    super("THREAD_FAILED", message);
  }
}

/**
 * Memory could not grow to hold a weight or buffer. `neededBytes` is the total
 * the allocation required; `limitBytes` the most that could be had.
 */
export class OutOfMemoryError extends PaliGemmaError {
  override readonly name: string = "OutOfMemoryError";
  constructor(
    message: string,
    readonly neededBytes: number,
    readonly limitBytes: number,
  ) {
    super("OUT_OF_MEMORY", message);
  }
}
