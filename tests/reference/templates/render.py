#!/usr/bin/env python3
"""Reference renderer for chat templates: Python's jinja2 configured the way Hugging Face
transformers' apply_chat_template configures it (src/transformers/utils/chat_template_utils.py):

  ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                extensions=[AssistantTracker, jinja2.ext.loopcontrols])
  filters["tojson"]         = json.dumps(x, ensure_ascii=False, indent=None, separators=None,
                                         sort_keys=False)   # the same parameters, in order
  globals["raise_exception"] raises jinja2.exceptions.TemplateError(message)
  globals["strftime_now"]   = datetime.now().strftime(format)
  template.render(messages=..., tools=..., documents=..., add_generation_prompt=...,
                  **special_tokens_map, **extra_kwargs)

transformers' AssistantTracker adds the {% generation %} tag, which renders its body (the
index tracking it also does changes nothing in the text). Special tokens the tokenizer lacks
are not passed, so an empty bos/eos string here leaves the variable undefined.

Usage:
  render.py batch JOBS.json RESULTS.json
      JOBS: {"cases": [{"template": "SOURCE", "messages": [...], "tools": null,
                        "add_generation_prompt": false, "bos_token": "", "eos_token": "",
                        "extra": {}, "now": 1721995200}, ...]}
      RESULTS: [{"ok": true, "text": "..."} or {"ok": false, "error": "Type: message"}, ...]
  render.py --template FILE --messages FILE [--tools FILE] [--add-generation-prompt]
            [--bos TEXT] [--eos TEXT] [--context JSON] [--now SECONDS]
      prints the rendered prompt (no newline added); exit status 1 when the template raises.
Exit status 77 when jinja2 is not installed (tests skip then).
"""
import argparse
import json
import sys
from datetime import datetime

try:
    import jinja2
    from jinja2.ext import Extension, loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment
except ImportError:
    print("render.py: python3-jinja2 is not installed", file=sys.stderr)
    sys.exit(77)


class GenerationTag(Extension):
    """{% generation %}...{% endgeneration %} of transformers' AssistantTracker."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render_body"), [], [], body).set_lineno(
            lineno)

    def _render_body(self, caller):
        return caller()


def make_environment(now):
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def strftime_now(format):
        moment = datetime.fromtimestamp(now) if now is not None else datetime.now()
        return moment.strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationTag, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


_compiled = {}


def compile_template(source, now):
    # transformers caches compiled templates too (functools.lru_cache).
    key = (source, now)
    if key not in _compiled:
        _compiled[key] = make_environment(now).from_string(source)
    return _compiled[key]


def render(source, messages, tools=None, add_generation_prompt=False, bos_token="",
           eos_token="", extra=None, now=None):
    template = compile_template(source, now)
    kwargs = {}
    if bos_token:
        kwargs["bos_token"] = bos_token
    if eos_token:
        kwargs["eos_token"] = eos_token
    kwargs.update(extra or {})
    return template.render(messages=messages, tools=tools, documents=None,
                           add_generation_prompt=add_generation_prompt, **kwargs)


def run_case(case):
    try:
        text = render(case["template"], case.get("messages", []), case.get("tools"),
                      bool(case.get("add_generation_prompt", False)), case.get("bos_token", ""),
                      case.get("eos_token", ""), case.get("extra"), case.get("now"))
        text.encode("utf-8")  # what the model would receive must be representable
        return {"ok": True, "text": text}
    except RecursionError:
        return {"ok": False, "error": "RecursionError"}
    except Exception as e:  # any exception: the template raised
        return {"ok": False, "error": f"{type(e).__name__}: {e}"}


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "batch":
        with open(sys.argv[2], encoding="utf-8") as f:
            jobs = json.load(f)
        results = [run_case(case) for case in jobs["cases"]]
        with open(sys.argv[3], "w", encoding="utf-8") as f:
            json.dump(results, f, ensure_ascii=True)
        return 0
    parser = argparse.ArgumentParser()
    parser.add_argument("--template", required=True)
    parser.add_argument("--messages", required=True)
    parser.add_argument("--tools")
    parser.add_argument("--add-generation-prompt", action="store_true")
    parser.add_argument("--bos", default="")
    parser.add_argument("--eos", default="")
    parser.add_argument("--context", default="{}")
    parser.add_argument("--now", type=int)
    args = parser.parse_args()
    with open(args.template, encoding="utf-8") as f:
        source = f.read()
    with open(args.messages, encoding="utf-8") as f:
        conversation = json.load(f)
    tools = None
    if isinstance(conversation, dict):
        tools = conversation.get("tools")
        conversation = conversation.get("messages")
    if args.tools:
        with open(args.tools, encoding="utf-8") as f:
            tools = json.load(f)
    result = run_case({"template": source, "messages": conversation, "tools": tools,
                       "add_generation_prompt": args.add_generation_prompt,
                       "bos_token": args.bos, "eos_token": args.eos,
                       "extra": json.loads(args.context), "now": args.now})
    if not result["ok"]:
        print(result["error"], file=sys.stderr)
        return 1
    sys.stdout.buffer.write(result["text"].encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
