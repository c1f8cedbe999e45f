#!/usr/bin/env node
// The HF tokenizers side of bench_tokenize: HF's own Rust tokenizer through @anush008/tokenizers.
//   node hf_tokenize_bench.js TOKENIZER.json CORPUS.jsonl IDS_OUT.jsonl REPS
// Encodes every document one after another (one at a time: single-threaded; RAYON_NUM_THREADS=1 and
// TOKENIZERS_PARALLELISM=false are set by the caller), without special tokens added. One warm-up pass,
// then REPS timed passes; each timed span covers encode() and getIds() for every document, not the file
// reading. Prints {"seconds": [...], "bytes": N, "documents": D, "tokens": T} and writes the ids of the
// last pass to IDS_OUT, one {"ids": [...]} line per document.
const fs = require("fs");
const path = require("path");
const npmDir = process.env.SAEDIFF_NPM_DIR || path.join(__dirname, "..", "third_party", "npm", "node_modules");
const { Tokenizer } = require(path.join(npmDir, "@anush008", "tokenizers"));

async function pass(tok, texts) {
  const ids = new Array(texts.length);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < texts.length; i++) {
    const enc = await tok.encode(texts[i], null, { addSpecialTokens: false });
    ids[i] = enc.getIds();
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { seconds, ids };
}

async function main() {
  const [tokenizerPath, corpus, idsOut, repsArg] = process.argv.slice(2);
  if (!idsOut) {
    console.error("usage: node hf_tokenize_bench.js TOKENIZER.json CORPUS.jsonl IDS_OUT.jsonl [REPS]");
    process.exit(2);
  }
  const reps = Number(repsArg || 3);
  const tok = Tokenizer.fromFile(tokenizerPath);
  const texts = fs.readFileSync(corpus, "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l).text);
  const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t, "utf8"), 0);
  let last = await pass(tok, texts);  // warm-up
  const seconds = [];
  for (let r = 0; r < reps; r++) {
    last = await pass(tok, texts);
    seconds.push(last.seconds);
  }
  fs.writeFileSync(idsOut, last.ids.map((ids) => JSON.stringify({ ids: Array.from(ids) })).join("\n") + "\n");
  const tokens = last.ids.reduce((n, ids) => n + ids.length, 0);
  console.log(JSON.stringify({ seconds, bytes, documents: texts.length, tokens }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
