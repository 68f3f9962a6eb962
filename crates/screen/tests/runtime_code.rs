//! Code that arrives at run time: programs that read their real code from
//! stdin, an argument or a file and hand it to a standard-library function
//! that compiles, evaluates or imports strings. Each escape is refused; each
//! look-alike (the same module used with a constant or the program's own
//! objects) passes.

#[macro_use]
mod support;

mod escapes {

    // Strings from stdin handed to timeit, profilers, doctest, typing and mock.
    escape!(
        timeit_input,
        "import timeit\ntimeit.timeit(input(), number=1)"
    );
    escape!(
        timeit_timer_input,
        "import timeit\nt = timeit.Timer(input())\nt.timeit(1)"
    );
    escape!(cprofile_run_input, "import cProfile\ncProfile.run(input())");
    escape!(profile_run_input, "import profile\nprofile.run(input())");
    escape!(
        doctest_docstring_from_input,
        "import doctest\ndef f():\n    pass\nf.__doc__ = input()\ndoctest.run_docstring_examples(f, {})"
    );
    escape!(
        doctest_string_from_input,
        "import doctest, sys\ndoctest.run_docstring_examples(sys.stdin.read(), {})"
    );
    escape!(
        forward_ref_evaluate,
        "import typing\ntyping.ForwardRef(input())._evaluate(globals(), None, frozenset())"
    );
    escape!(
        mock_patch_getter,
        "from unittest import mock\nmock.patch(input()).getter()"
    );
    escape!(
        reduce_getattr_input,
        "import functools, sys\nf = functools.reduce(getattr, input().split('.'), sys)\nprint(f)"
    );
    // The class, beyond the list.
    escape!(
        timeit_repeat_setup,
        "from timeit import repeat\ncode = input()\nrepeat('pass', setup=code, number=1)"
    );
    escape!(
        cprofile_profile_runctx,
        "import cProfile\np = cProfile.Profile()\np.runctx(input(), {}, {})"
    );
    escape!(
        cprofile_profile_run_chained,
        "import sys, cProfile\ncProfile.Profile().run(sys.argv[1])"
    );
    escape!(
        doctest_parser_get_doctest,
        "import doctest, sys\nt = doctest.DocTestParser().get_doctest(sys.stdin.read(), {}, 'x', None, 0)\ndoctest.DocTestRunner().run(t)"
    );
    escape!(
        doctest_testfile_stdin,
        "import doctest\ndoctest.testfile('/dev/stdin', module_relative=False)"
    );
    escape!(
        doctest_class_namespace_doc,
        "import doctest\nC = type('C', (), {'__doc__': input()})\ndoctest.run_docstring_examples(C, {})"
    );
    escape!(
        setattr_doc_from_input,
        "import doctest\nclass C: pass\nsetattr(C, '__doc__', input())\ndoctest.testmod()"
    );
    escape!(
        module_type_doc,
        "import doctest, types\nm = types.ModuleType('m', input())\ndoctest.testmod(m)"
    );
    escape!(
        annotations_from_input,
        "import typing\ndef f(x): pass\nf.__annotations__ = {'x': input()}\ntyping.get_type_hints(f)"
    );
    escape!(
        mock_patch_object_attribute,
        "import sys\nfrom unittest.mock import patch\npatch.object(sys, input(), 1).start()"
    );
    escape!(
        mock_importer,
        "from unittest import mock\nm = mock._importer(input())"
    );
    escape!(
        test_loader_name,
        "import unittest, sys\nunittest.TestLoader().loadTestsFromName(sys.argv[1])"
    );
    escape!(
        unittest_main_argv_from_input,
        "import unittest\nunittest.main(argv=['x', input()])"
    );
    escape!(
        logging_dict_config_from_json,
        "import json, logging.config\nlogging.config.dictConfig(json.loads(input()))"
    );
    escape!(
        logging_configurator_resolve,
        "import logging.config\nlogging.config.BaseConfigurator({}).resolve(input())"
    );
    escape!(
        warnings_getcategory,
        "import warnings\nwarnings._getcategory(input())"
    );
    escape!(
        sax_make_parser_modules,
        "import xml.sax\nxml.sax.make_parser([input()])"
    );
    escape!(
        attrgetter_dotted_on_module,
        "import math\nfrom operator import attrgetter\nprint(attrgetter(input())(math))"
    );
    escape!(
        string_formatter_vformat,
        "import string\nprint(string.Formatter().vformat(input(), (print,), {}))"
    );
    escape!(
        rlcompleter_walk,
        "import rlcompleter\nc = rlcompleter.Completer()\nprint(c.complete(input(), 0))"
    );
    escape!(
        timeit_function_parameter_holding_text,
        "import timeit\ndef bench(stmt):\n    return timeit.timeit(stmt, number=1)\nbench(input())"
    );
    escape!(
        timeit_template_hole_from_input,
        "from timeit import timeit\ns = input()\ntimeit(f'len({s})', number=1)"
    );
    escape!(
        timeit_template_hole_from_parameter_of_input,
        "from timeit import timeit\ndef bench(n):\n    return timeit('abs(%s)' % n, number=1)\nbench(open('/dev/stdin').read())"
    );
    escape!(
        timeit_template_call_hole,
        "import timeit\ntimeit.timeit(f'{chr(95) * 2}import__(1)', number=1)"
    );
    escape!(
        timeit_constant_payload,
        "import timeit\ntimeit.timeit(\"__import__('os').system('id')\", number=1)"
    );
    escape!(
        mock_patch_constant_target,
        "from unittest import mock\nwith mock.patch('os.system') as s:\n    pass"
    );
}

mod look_alikes {

    benign!(
        timeit_constant_statement,
        "import timeit\nprint(timeit.timeit('sum(range(100))', number=1000))"
    );
    benign!(
        timeit_own_function,
        "import timeit\ndef work():\n    return sorted(range(1000))\nprint(timeit.timeit(work, number=10))\nprint(timeit.repeat(lambda: work(), number=5, repeat=3))"
    );
    benign!(
        timeit_benchmark_template,
        "from timeit import timeit\ndef count(n):\n    return bin(n).count('1')\ndef bench(number):\n    setup = 'import __main__ as z'\n    print(timeit(f'z.count({number})', setup=setup, number=100))\n    print(timeit('z.count(%d)' % number, setup=setup, number=100))\n    print(timeit('z.count({})'.format(number), setup=setup, number=100))\nfor number in (25, 37):\n    bench(number)"
    );
    benign!(
        timeit_timer_with_setup,
        "from timeit import Timer\nt = Timer('x.sort()', setup='x = list(range(100))[::-1]')\nprint(min(t.repeat(3, 100)))"
    );
    benign!(
        cprofile_constant_statement,
        "import cProfile\ndef main():\n    return sum(i * i for i in range(10000))\ncProfile.run('main()')"
    );
    benign!(
        profile_own_object,
        "import cProfile, pstats\ndef main():\n    return 1\np = cProfile.Profile()\np.enable()\nmain()\np.disable()\npstats.Stats(p).sort_stats('cumulative').print_stats(5)"
    );
    benign!(
        doctest_own_module,
        "def add(a, b):\n    \"\"\"\n    >>> add(2, 3)\n    5\n    \"\"\"\n    return a + b\n\nif __name__ == '__main__':\n    import doctest\n    doctest.testmod(verbose=True)"
    );
    benign!(
        doctest_run_docstring_of_own_function,
        "import doctest\ndef square(x):\n    \"\"\"\n    >>> square(4)\n    16\n    \"\"\"\n    return x * x\ndoctest.run_docstring_examples(square, globals())"
    );
    benign!(
        decorator_copies_doc,
        "def logged(f):\n    def wrapper(*a):\n        return f(*a)\n    wrapper.__doc__ = f.__doc__\n    wrapper.__name__ = f.__name__\n    return wrapper\n@logged\ndef g(x):\n    'double'\n    return 2 * x\nprint(g(3), g.__doc__)"
    );
    benign!(
        type_hints_of_own_class,
        "from typing import get_type_hints, List\nclass Point:\n    x: int\n    y: 'List[int]'\nprint(get_type_hints(Point))"
    );
    benign!(
        mock_patch_constant_target_in_tests,
        "import unittest\nfrom unittest import mock\nimport random\nclass T(unittest.TestCase):\n    def test_roll(self):\n        with mock.patch('random.randint', return_value=4):\n            self.assertEqual(random.randint(1, 6), 4)\n    @mock.patch.object(random, 'random', return_value=0.5)\n    def test_random(self, m):\n        self.assertEqual(random.random(), 0.5)\nunittest.main(argv=['t'], exit=False)"
    );
    benign!(
        unittest_main_plain,
        "import unittest\nclass T(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(1 + 1, 2)\nif __name__ == '__main__':\n    unittest.main()"
    );
    benign!(
        logging_dict_config_literal,
        "import logging, logging.config\nCONFIG = {'version': 1, 'handlers': {'console': {'class': 'logging.StreamHandler', 'level': 'INFO'}}, 'root': {'handlers': ['console'], 'level': 'INFO'}}\nlogging.config.dictConfig(CONFIG)\nlogging.info('ready')"
    );
    benign!(
        reduce_getattr_constant_path,
        "import functools\nclass A:\n    pass\na = A()\na.b = A()\na.b.c = 3\nprint(functools.reduce(getattr, 'b.c'.split('.'), a))"
    );
    benign!(
        reduce_sum_from_input,
        "import functools, operator\nnums = list(map(int, input().split()))\nprint(functools.reduce(operator.add, nums, 0))"
    );
    benign!(
        dis_own_function,
        "import dis\ndef f(x):\n    return x + 1\ndis.dis(f)"
    );
    benign!(
        attrgetter_sort_key_from_input,
        "from operator import attrgetter\nclass P:\n    def __init__(self, a, b):\n        self.a, self.b = a, b\nkey = input() or 'a'\nprint([p.a for p in sorted([P(2, 1), P(1, 2)], key=attrgetter(key))])"
    );
    benign!(
        string_formatter_constant,
        "import string\nf = string.Formatter()\nprint(f.format('{0} + {1} = {2}', 1, 2, 3))"
    );
}
