// Reference tokenization for the C# parity tests: @huggingface/tokenizers run on the same files.
// stdin:  {"tokenizerDir": "...", "texts": ["..."], "addSpecialTokens": true}
// stdout: {"ids": [[...]], "decoded": ["..."], "decodedSkippingSpecial": ["..."]}
// Decoding turns clean_up_tokenization_spaces off: Rollout decodes losslessly (as vLLM does).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";

const request = JSON.parse(readFileSync(0, "utf8"));
const load = (name) => JSON.parse(readFileSync(join(request.tokenizerDir, name), "utf8"));
const tokenizer = new Tokenizer(load("tokenizer.json"), load("tokenizer_config.json"));

// decode() refuses an empty list; the empty text is a case worth comparing all the same.
const decode = (ids, skip) =>
  ids.length === 0 ? "" : tokenizer.decode(ids, { skip_special_tokens: skip, clean_up_tokenization_spaces: false });

const ids = request.texts.map((text) => tokenizer.encode(text, { add_special_tokens: request.addSpecialTokens }).ids);
process.stdout.write(JSON.stringify({
  ids,
  decoded: ids.map((x) => decode(x, false)),
  decodedSkippingSpecial: ids.map((x) => decode(x, true)),
}));
