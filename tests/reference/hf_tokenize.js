#!/usr/bin/env node
// Reference tokenizer: HF tokenizers' own implementation (Rust, through @anush008/tokenizers).
//   node hf_tokenize.js TOKENIZER.json IN.jsonl OUT.jsonl [encode|decode]
// encode (default): IN lines are {"text": ...}; OUT lines are {"ids": [...]}, in order, with no special
// tokens added (special-token strings inside the text are still read as special tokens).
// decode: IN lines are {"ids": [...]}; OUT lines are {"text": ...} (special tokens kept).
const fs = require("fs");
const path = require("path");
const npmDir = process.env.SAEDIFF_NPM_DIR ||
  path.join(__dirname, "..", "..", "third_party", "npm", "node_modules");
const { Tokenizer } = require(path.join(npmDir, "@anush008", "tokenizers"));

async function main() {
  const [tokenizerPath, input, output, mode = "encode"] = process.argv.slice(2);
  if (!output || !["encode", "decode"].includes(mode)) {
    console.error("usage: node hf_tokenize.js TOKENIZER.json IN.jsonl OUT.jsonl [encode|decode]");
    process.exit(2);
  }
  const tok = Tokenizer.fromFile(tokenizerPath);
  const lines = fs.readFileSync(input, "utf8").split("\n").filter((l) => l.trim() !== "");
  const out = [];
  for (const line of lines) {
    if (mode === "encode") {
      const enc = await tok.encode(JSON.parse(line).text, null, { addSpecialTokens: false });
      out.push(JSON.stringify({ ids: Array.from(enc.getIds()) }));
    } else {
      out.push(JSON.stringify({ text: await tok.decode(JSON.parse(line).ids, false) }));
    }
  }
  fs.writeFileSync(output, out.join("\n") + (out.length ? "\n" : ""));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
