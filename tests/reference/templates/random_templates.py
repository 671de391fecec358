#!/usr/bin/env python3
"""Generates random Jinja templates for differential testing against jinja2: expressions over
literals, the variables of CONTEXT, operators, filters, tests and methods, inside if/for/set/
namespace/macro statements and whitespace-control forms. The same seed gives the same cases.

Usage: random_templates.py SEED COUNT > JOBS.json   (jobs for render.py batch)

Integers stay within 64 bits (autarky's Jinja has no big integers) and strings stay short.
"""
import json
import random
import sys

CONTEXT = {
    "d": {"a": 1, "b": [1, 2, {"c": "x"}], "s": "Hi There", "n": None, "f": 1.5, "t": True},
    "l": [3, 1, 2, 2],
    "s": "Hello, World! ΣΑΣ straße",
    "n": None,
    "e": [],
    "z": 0,
    "f": -2.5,
    "msgs": [{"role": "system", "content": " sys "}, {"role": "user", "content": "hi <b>&"},
             {"role": "assistant", "content": "yo",
              "tool_calls": [{"function": {"name": "f", "arguments": {"x": 1}}}]}],
}

rng = random.Random(0)

ATOMS = ["d", "l", "s", "n", "e", "z", "f", "msgs", "missing", "1", "0", "-3", "2.5", "0.1",
         "'str'", "''", "'a b'", "\"q'q\"", "true", "false", "none", "[1, 2]", "[]", "{}",
         "{'k': 'v'}", "(1, 'a')", "d.a", "d.b", "d['s']", "d.n", "d.missing", "l[0]", "l[-1]",
         "l[1:]", "s[::2]", "s[3]", "msgs[1].content", "msgs[2].tool_calls[0].function",
         "msgs|first", "range(4)", "msgs|map(attribute='role')|list"]
UNARY = ["not {}", "-{}", "({})"]
BINARY = ['{} + {}', '{} - {}', '{} * {}', '{} / {}', '{} // {}', '{} % {}', '{} ** 2',
          '{} ~ {}', '{} == {}', '{} != {}', '{} < {}', '{} >= {}', '{} in {}', '{} not in {}',
          '{} and {}', '{} or {}', '{} if {} else {}', '{} if {}']
FILTERS = ['length', 'string', 'trim', 'lower', 'upper', 'title', 'capitalize', 'first', 'last',
           'list', 'sort', 'reverse|list', 'unique|list', "join(', ')", 'join', 'tojson',
           'tojson(indent=2)', 'tojson(sort_keys=true)', 'int', 'float', 'abs', 'round',
           'round(1)', "default('D')", "default('D', true)", 'items|list', 'dictsort', 'safe',
           'e', 'indent(2)', 'indent(2, true)', 'center(9)', 'wordcount', 'max', 'min', 'sum',
           'batch(2)|list', 'slice(2)|list', 'select|list', 'reject|list', "select('odd')|list",
           "map('string')|list", "map('upper')|list", "selectattr('role')|list",
           "selectattr('role', 'equalto', 'user')|list", "rejectattr('content')|list",
           "replace('l', 'L')", 'truncate(8)', 'count', 'format(1)', "attr('a')",
           "groupby('role')|list", 'string|length']
TESTS = ['defined', 'undefined', 'none', 'string', 'number', 'integer', 'float', 'mapping',
         'iterable', 'sequence', 'callable', 'boolean', 'true', 'false', 'odd', 'even', 'lower',
         'upper', 'divisibleby 2', 'equalto 1', "in [1, 'a']", 'sameas none', 'escaped', 'gt 1',
         'le 2']
METHODS = ['upper()', 'lower()', 'strip()', 'split()', "split(',')", "startswith('H')",
           "endswith('!')", "replace('o', '0')", "find('o')", "count('l')", 'title()',
           'capitalize()', "lstrip('H')", "rstrip('!')", 'splitlines()', "partition(' ')",
           'isdigit()', 'isalpha()', 'islower()', 'zfill(10)', "center(20, '*')", 'format(1, 2)',
           "join(['a', 'b'])", "get('a')", "get('zz', 3)", 'keys()|list', 'values()|list',
           'items()|list', 'index(2)', 'count(2)', 'copy()']
LAYOUT = ["\n  {%- if true %}\n  x\n  {% endif -%}\n", "{#- c -#}\n ",
          " {%+ if 1 %} y {% endif +%}\n", "{% raw %}{{ r }}{% endraw %}"]


def expr(depth=0):
    r = rng.random()
    if depth > 2 or r < 0.4:
        return rng.choice(ATOMS)
    if r < 0.45:
        return rng.choice(UNARY).format(expr(depth + 1))
    if r < 0.65:
        op = rng.choice(BINARY)
        return op.format(*[expr(depth + 1) for _ in range(op.count("{}"))])
    if r < 0.8:
        return f"({expr(depth + 1)})|{rng.choice(FILTERS)}"
    if r < 0.9:
        return f"({expr(depth + 1)}) is {rng.choice(['', 'not '])}{rng.choice(TESTS)}"
    return f"({expr(depth + 1)}).{rng.choice(METHODS)}"


def stmt(depth=0):
    r = rng.random()
    if depth > 2 or r < 0.4:
        return "{{ " + expr() + " }}"
    if r < 0.55:
        return ("{% if " + expr() + " %}" + body(depth + 1) + "{% else %}" + body(depth + 1) +
                "{% endif %}")
    if r < 0.7:
        return ("{% for loopvar in " + expr() + " %}" + "{{ loopvar }}" + body(depth + 1) +
                "{{ loop.index }}{% else %}E{% endfor %}")
    if r < 0.8:
        return "{% set x = " + expr() + " %}{{ x }}"
    if r < 0.87:
        return ("{% set ns = namespace(v=" + expr() + ") %}{% for i in [1, 2] %}"
                "{% set ns.v = ns.v ~ i %}{% endfor %}{{ ns.v }}")
    if r < 0.94:
        return ("{% macro m(a, b=" + expr() + ") %}[{{ a }}|{{ b }}]{% endmacro %}{{ m(" +
                expr() + ") }}")
    return rng.choice(LAYOUT)


def body(depth):
    return "".join(stmt(depth) for _ in range(rng.randint(1, 3)))


def main():
    global rng
    rng = random.Random(int(sys.argv[1]))
    count = int(sys.argv[2])
    cases = [{"template": body(0), "messages": [], "tools": None, "add_generation_prompt": False,
              "bos_token": "<s>", "eos_token": "</s>", "extra": CONTEXT, "now": 1721995200}
             for _ in range(count)]
    json.dump({"cases": cases}, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
