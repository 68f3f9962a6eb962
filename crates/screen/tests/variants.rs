//! Generalisation checks beyond the corpus: escape variants written for this
//! test (same techniques, different spellings) must be refused, and ordinary
//! programs using the same building blocks must pass.

use execgate_screen::{Language, RuleSet, ScreenPolicy, screen};
use std::path::Path;

fn shipped() -> RuleSet {
    RuleSet::load(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/screen")])
        .expect("shipped rules load")
}

const ESCAPES: &[&str] = &[
    // obfuscated imports
    "m = __import__(chr(0x6f) + chr(0x73))\nm.system('id')",
    "import importlib as il\nil.import_module('o' 's').system('id')",
    "b = __builtins__\nb.__dict__['__imp' + 'ort__']('os')",
    "x = [].__class__.__mro__[-1].__subclasses__()",
    "print(globals()['__buil' + 'tins__'])",
    "name = 'so'[::-1]\n__import__(name)",
    "f = getattr(__builtins__, ''.join(reversed('lave')))\nf('1')",
    // call laundering and aliasing
    "from subprocess import getoutput as g\nlist(map(g, ['id']))",
    "import random\nrandom._os.system('id')",
    "import tempfile as t\nt._os.system('id')",
    "sorted(['id'], key=__import__('os').system)",
    "handlers = {'run': eval}\nhandlers['run']('1')",
    "e = eval\ne('1')",
    // frames and builtins recovery
    "def f():\n    try:\n        1/0\n    except Exception as e:\n        return e.__traceback__.tb_frame.f_back.f_globals\nf()",
    "import operator\nprint(operator.attrgetter('__globals__')(print))",
    "print(type.__subclasses__(object))",
    "(lambda: 0).__code__.co_consts",
    "async def a():\n    pass\nc = a()\nprint(c.cr_frame.f_locals)",
    "x = [1].__class__.__base__\nprint(x.__subclasses__)",
    // dynamic code
    "exec(bytes([112, 114, 105, 110, 116, 40, 49, 41]).decode())",
    "import code\ncode.InteractiveInterpreter().runsource('print(1)')",
    "compile('1', 'x', 'eval')",
    "@exec\n@lambda _: 'import os'\ndef f():\n    pass",
    "class D:\n    '''\n    >>> import socket\n    '''\nimport doctest\ndoctest.testmod()",
    // files, processes, network
    "print(open('/proc/self/environ').read())",
    "open('../../../../etc/shadow').read()",
    "import _socket\n_socket.socket()",
    "import asyncio\nasyncio.get_event_loop().subprocess_shell(None, 'id')",
    "import pickle\npickle.loads(b'cos\\nsystem\\n(S\"id\"\\ntR.')",
    "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)",
    "from ctypes import cdll\ncdll.LoadLibrary('libc.so.6').system(b'id')",
    // source tricks
    "# vim: set fileencoding=utf_7 :\n# +AAo-import os",
    "\u{FF45}\u{FF58}\u{FF45}\u{FF43}('import os')",
    "print `__import__('os')`",
    "import zlib, base64\nwith open('stage.py', 'w') as fh:\n    fh.write(zlib.decompress(base64.b64decode(blob)).decode())\nimport stage",
    "import mailcap\nmailcap.findmatch({}, 'x')",
    // a program's own definitions shadow builtins only when they surely run first
    "if 0:\n    def eval(e):\n        pass\neval('__im' + 'port__(1)')",
    "eval('1')\ndef eval(e):\n    pass",
    "def eval(e):\n    pass\ndel eval\neval('1')",
    "class compile:\n    code = compile('1', 'x', 'eval')",
];

const BENIGN: &[&str] = &[
    "import sys\nsys.setrecursionlimit(10 ** 6)\ninput = sys.stdin.readline\nn = int(input() or 0)\nprint(n)",
    "import gc\ngc.disable()\nprint(sum(range(10)))",
    "import sqlite3\ncon = sqlite3.connect(':memory:')\ncon.execute('create table t(x)')\nprint(con.execute('select 1').fetchone())",
    "from functools import lru_cache\n@lru_cache(None)\ndef fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\nprint(fib(30))",
    "import re\npat = re.compile(r'\\d+')\nprint(pat.findall('a1b22'))",
    "class Stack:\n    def __init__(self):\n        self._items = []\n    def __getattr__(self, name):\n        return getattr(self._items, name)\ns = Stack()\ns.append(1)\nprint(s.pop())",
    "import json\nprint(json.dumps({'system': 'solar', 'planets': 8}))",
    "def gen():\n    n = 0\n    while True:\n        yield n\n        n += 1\nimport itertools\nprint(list(itertools.islice(gen(), 5)))",
    "with open('output.txt', 'w') as fh:\n    fh.write('result')",
    "import time, threading\nt = threading.Thread(target=time.sleep, args=(0.01,))\nt.start()\nt.join()",
    "import asyncio\nasync def main():\n    await asyncio.sleep(0)\n    return 1\nprint(asyncio.run(main()))",
    "from dataclasses import dataclass, field\n@dataclass\nclass P:\n    x: int = 0\n    tags: list = field(default_factory=list)\nprint(P())",
    "import collections\nprint(collections.Counter('mississippi').most_common(2))",
    "def dispatch(op, a, b):\n    table = {'add': lambda x, y: x + y, 'mul': lambda x, y: x * y}\n    return table[op](a, b)\nprint(dispatch('add', 2, 3))",
    "import math\nprint([math.comb(10, k) for k in range(11)])",
    "import random\nrandom.seed(1)\nprint(random.sample(range(100), 5))",
    "import string\nprint(string.Template('$who likes $what').substitute(who='tim', what='pie'))",
    "import unittest\nclass T(unittest.TestCase):\n    def test_x(self):\n        self.assertEqual(1, 1)\nunittest.main(argv=['x'], exit=False)",
    "import copy, operator\nitems = [{'k': 2}, {'k': 1}]\nprint(sorted(copy.deepcopy(items), key=operator.itemgetter('k')))",
    "print(type(3).__name__, (3).__class__.__name__, int.__mro__)",
    "MOD = 10 ** 9 + 7\nprint(pow(2, 10 ** 5, MOD))",
    "import sys\nsys.setrecursionlimit(10 ** 7)\nN = 10 ** 7\nsieve = [True] * (N + 1)\nfor i in range(2, N):\n    pass\nprint(sum(sieve))",
    "print('Usage: python main.py INPUT')\nwhile True:\n    line = input()\n    if not line:\n        break",
    "class Proxy:\n    def __init__(self, target):\n        object.__setattr__(self, '_t', target)\n    def __getattr__(self, name):\n        return getattr(object.__getattribute__(self, '_t'), name)\nprint(Proxy([1, 2]).count(1))",
    "def chat():\n    history = [{'role': 'system', 'content': 'be brief'}]\n    while True:\n        yield history[-1]\nprint(next(chat()))",
    "def eval(node):\n    if isinstance(node, tuple):\n        op, a, b = node\n        return eval(a) + eval(b) if op == '+' else eval(a) * eval(b)\n    return node\nprint(eval(('+', 1, ('*', 2, 3))))",
    "def f(**kw):\n    return '{a}-{b}'.format(**kw)\na, b = 1, 2\nprint('{a}+{b}'.format(**locals()), f(**globals()))",
];

/// Typical judge submissions in the pattern-pack languages.
const BENIGN_OTHER: &[(&str, &str)] = &[
    (
        "javascript",
        "let input = '';\nprocess.stdin.on('data', c => input += c);\nprocess.stdin.on('end', () => {\n  const [a, b] = input.split(' ').map(Number);\n  console.log(a + b);\n});",
    ),
    (
        "javascript",
        "class Graph { constructor(n) { this.adj = Array.from({length: n}, () => []); } }\nconst g = new Graph(3);\nconsole.log(JSON.stringify(g.adj));",
    ),
    (
        "java",
        "import java.util.*;\nimport java.io.*;\npublic class Main {\n  public static void main(String[] args) throws IOException {\n    BufferedReader br = new BufferedReader(new InputStreamReader(System.in));\n    PrintWriter out = new PrintWriter(System.out);\n    out.println(br.readLine());\n    out.flush();\n  }\n}",
    ),
    (
        "c",
        "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\nint main(void) {\n  int n; if (scanf(\"%d\", &n) != 1) return 1;\n  int *a = malloc(n * sizeof *a);\n  memset(a, 0, n * sizeof *a);\n  printf(\"%d\\n\", n);\n  free(a);\n  return 0;\n}",
    ),
    (
        "cpp",
        "#include <bits/stdc++.h>\nusing namespace std;\nint parent[100];\nint find(int x) { return parent[x] == x ? x : parent[x] = find(parent[x]); }\nvoid connect(int a, int b) { parent[find(a)] = find(b); }\nint main() {\n  ios::sync_with_stdio(false);\n  vector<int> v = {3, 1, 2, 0};\n  v.erase(remove(v.begin(), v.end(), 0), v.end());\n  sort(v.begin(), v.end());\n  auto f = bind(plus<int>(), placeholders::_1, 1);\n  connect(1, 2);\n  cout << f(v[0]) << endl;\n}",
    ),
];

#[test]
fn ordinary_programs_in_other_languages_pass() {
    let rules = shipped();
    for (language, code) in BENIGN_OTHER {
        let lang = Language::from_name(language).expect("known language");
        let v = screen(
            &rules,
            Some(lang),
            code.as_bytes(),
            &ScreenPolicy::default(),
        );
        assert!(
            !v.refused,
            "{language} program refused: score {} {:?}",
            v.score, v.findings
        );
    }
}

#[test]
fn escape_variants_are_refused() {
    let rules = shipped();
    let missed: Vec<String> = ESCAPES
        .iter()
        .filter_map(|code| {
            let v = screen(
                &rules,
                Some(Language::Python),
                code.as_bytes(),
                &ScreenPolicy::default(),
            );
            (!v.refused).then(|| format!("{code:?}: score {} {:?}", v.score, v.findings))
        })
        .collect();
    assert!(missed.is_empty(), "not refused:\n{}", missed.join("\n"));
}

#[test]
fn ordinary_programs_pass() {
    let rules = shipped();
    let refused: Vec<String> = BENIGN
        .iter()
        .filter_map(|code| {
            let v = screen(
                &rules,
                Some(Language::Python),
                code.as_bytes(),
                &ScreenPolicy::default(),
            );
            v.refused
                .then(|| format!("{code:?}: score {} {:?}", v.score, v.findings))
        })
        .collect();
    assert!(refused.is_empty(), "refused:\n{}", refused.join("\n"));
}
