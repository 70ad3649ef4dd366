// Renders chat templates with @huggingface/jinja, the reference the C# ChatTemplate is compared to.
// stdin: JSON array of cases {template, messages, tools?, add_generation_prompt?, bos_token?, eos_token?,
// vars?, date?}. stdout: JSON array of {output} or {error}, in the same order.
import { Template } from "@huggingface/jinja";

const input = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk) => (text += chunk));
  process.stdin.on("end", () => resolve(text));
}));

// strftime_now reads the clock; pin it to the case's date so both sides render the same day.
const RealDate = Date;
function pinDate(iso) {
  globalThis.Date = class extends RealDate {
    constructor(...args) {
      super(...(args.length ? args : [iso]));
    }
  };
}

const compiled = new Map();
const results = input.map((c) => {
  try {
    let template = compiled.get(c.template);
    if (!template) compiled.set(c.template, (template = new Template(c.template)));
    const vars = { messages: c.messages, add_generation_prompt: !!c.add_generation_prompt, ...(c.vars ?? {}) };
    if (c.tools) vars.tools = c.tools;
    if (c.bos_token != null) vars.bos_token = c.bos_token;
    if (c.eos_token != null) vars.eos_token = c.eos_token;
    pinDate(c.date ?? "2025-01-02T03:04:05");
    return { output: template.render(vars) };
  } catch (e) {
    return { error: String(e?.message ?? e) };
  } finally {
    globalThis.Date = RealDate;
  }
});
process.stdout.write(JSON.stringify(results));
