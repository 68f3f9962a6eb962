//! The Python red-team families of `vendor/corpus/own/python` in small: one
//! escape per technique the walk or the rules had to learn (format fields,
//! match-class keywords, descriptor tables, stdlib file openers, frame walks,
//! host modules, containers of interpreter objects, getter functions,
//! swallowed interrupts, host facts, unsafe loader options, XML entities),
//! each checked against the rule that must refuse it, and the look-alikes a
//! tutorial or a test suite writes with the same modules.

#[macro_use]
mod support;

use support::verdict;

/// Refused, and by `rule`.
fn refused_by(code: &str, rule: &str) {
    let v = verdict(code);
    let rules: Vec<&str> = v.findings.iter().map(|f| f.rule.as_str()).collect();
    assert!(
        v.refused && rules.contains(&rule),
        "{rule} expected: {rules:?} in\n{code}"
    );
}

macro_rules! refused_by {
    ($name:ident, $rule:expr, $code:expr) => {
        #[test]
        fn $name() {
            refused_by($code, $rule);
        }
    };
}

mod introspection {
    use super::*;
    refused_by!(
        mac_address,
        "PY-HOST-FACT",
        "from uuid import uuid1 as u\nprint(u().node)"
    );
    refused_by!(
        host_name_in_message_id,
        "PY-HOST-FACT",
        "import email.utils\nprint(email.utils.make_msgid())"
    );
    refused_by!(
        module_file,
        "PY-ATTR-HOST-PATH",
        "import json\nprint(json.__file__)"
    );
    refused_by!(
        printed_module,
        "PY-ATTR-HOST-PATH",
        "import random\nprint(random)"
    );
    refused_by!(
        module_in_f_string,
        "PY-ATTR-HOST-PATH",
        "import heapq\nx = f'{heapq!r}'"
    );
    refused_by!(
        sys_namespace,
        "PY-DYNAMIC-INTERPRETER-ATTRIBUTE",
        "import sys\nprint(vars(sys))"
    );
    refused_by!(
        sys_dict,
        "PY-DYNAMIC-INTERPRETER-ATTRIBUTE",
        "import sys\nprint(sys.__dict__)"
    );
    refused_by!(
        computed_name_on_sys,
        "PY-DYNAMIC-INTERPRETER-ATTRIBUTE",
        "import sys\nprint(getattr(sys, input()))"
    );
    benign!(
        uuid4_and_version,
        "import sys, uuid\nprint(uuid.uuid4(), sys.version_info >= (3, 8))"
    );
    benign!(
        math_by_name,
        "import math\nname = input()\nprint(getattr(math, name)(2.0))"
    );
    benign!(
        own_object_vars,
        "class P:\n    pass\np = P()\nprint(vars(p), p.__dict__)"
    );
}

mod format_string {
    use super::*;
    refused_by!(
        generator_frame_field,
        "PY-ATTR-FRAME",
        "def g():\n    yield\nprint('{0.gi_frame.f_back}'.format(g()))"
    );
    refused_by!(
        private_module_field,
        "PY-ATTR-SANDBOX-ESCAPE",
        "import warnings\nprint('{0._module}'.format(warnings.catch_warnings()))"
    );
    refused_by!(
        module_table_item,
        "PY-IMPORT-PROCESS",
        "import sys\nprint('{0.modules[os]}'.format(sys))"
    );
    refused_by!(
        reached_module_field,
        "PY-IMPORT-PROCESS",
        "import random\nprint('{r._os}'.format(r=random))"
    );
    refused_by!(
        get_field_path,
        "PY-ATTR-FRAME",
        "import string\nstring.Formatter().get_field('0.gi_frame', [x], {})"
    );
    benign!(
        fields_of_own_objects,
        "class P:\n    name = 'a'\nprint('{0.name} {0.name!r:>5} {{literal}}'.format(P()))"
    );
    benign!(
        item_fields,
        "row = {'a': [1]}\nprint('{r[a][0]}'.format(r=row))"
    );
}

mod file_access {
    use super::*;
    refused_by!(
        tokenize_open,
        "PY-FILE-PATH",
        "import tokenize\nprint(tokenize.open(input()).read())"
    );
    refused_by!(
        uri_from_input,
        "PY-FILE-PATH",
        "import sqlite3\nsqlite3.connect('file:' + input() + '?mode=ro', uri=True)"
    );
    refused_by!(
        folded_absolute_path,
        "PY-FILE-PATH",
        "import xml.etree.ElementTree as ET\nET.parse('/' + 'etc/fonts/fonts.conf')"
    );
    refused_by!(
        line_cache_of_traceback,
        "PY-FILE-PATH",
        "import traceback\ntraceback.print_list([(input(), 1, 'f', None)])"
    );
    refused_by!(
        logging_file_keyword,
        "PY-FILE-PATH",
        "import logging\nlogging.basicConfig(filename=input())"
    );
    refused_by!(
        config_parser_instance,
        "PY-FILE-PATH",
        "import configparser, sys\ncp = configparser.ConfigParser()\ncp.read(sys.argv[1])"
    );
    refused_by!(
        extract_to_root,
        "PY-FILE-PATH",
        "import zipfile\nzipfile.ZipFile('a.zip').extractall('/')"
    );
    benign!(
        relative_constant_paths,
        "import configparser, sqlite3\nconfigparser.ConfigParser().read('settings.ini')\nsqlite3.connect(':memory:')"
    );
    benign!(
        extract_to_folder,
        "import zipfile\nzipfile.ZipFile('a.zip').extractall('out')"
    );
}

mod deserialization {
    use super::*;
    refused_by!(
        loader_class_by_module_path,
        "PY-UNSAFE-LOAD",
        "import yaml\nyaml.loader.UnsafeLoader(s).get_single_data()"
    );
    refused_by!(
        allow_pickle,
        "PY-UNSAFE-LOAD-OPTION",
        "import numpy\nnumpy.lib.format.read_array(f, allow_pickle=True)"
    );
    refused_by!(
        entity_declaration,
        "PY-STRING-XML-ENTITY",
        "import xml.etree.ElementTree as ET\nET.fromstring('<!DOCTYPE l [<!ENTITY a \"x\">]><l>&a;</l>')"
    );
    refused_by!(
        external_entities_feature,
        "PY-UNSAFE-LOAD",
        "import xml.sax\np = xml.sax.make_parser()\np.setFeature(xml.sax.handler.feature_external_ges, True)"
    );
    refused_by!(
        interpolation_bomb,
        "PY-STRING-INTERPOLATION-BOMB",
        "s = '%(a)s%(a)s%(a)s%(a)s%(a)s'"
    );
    refused_by!(
        renamed_pickle,
        "PY-IMPORT-DESERIALIZE",
        "import pickle5\npickle5.loads(b)"
    );
    benign!(
        safe_yaml_and_plain_xml,
        "import yaml, xml.etree.ElementTree as ET\nyaml.safe_load('a: 1')\nET.fromstring('<a>Tom &amp; Jerry</a>')"
    );
}

mod frames {
    use super::*;
    refused_by!(
        match_class_keywords,
        "PY-ATTR-FRAME",
        "from types import FrameType\nmatch f:\n    case FrameType(f_globals=g):\n        print(g)"
    );
    refused_by!(
        descriptor_from_class_table,
        "PY-ATTR-FRAME",
        "def g():\n    yield\nx = g()\nprint(vars(type(x))['gi_frame'].__get__(x))"
    );
    refused_by!(
        walk_stack_computed_name,
        "PY-DYNAMIC-INTERPRETER-ATTRIBUTE",
        "import traceback\nfor fr, _ in traceback.walk_stack(None):\n    print(getattr(fr, input()))"
    );
    refused_by!(
        next_frame_getattribute,
        "PY-DYNAMIC-INTERPRETER-ATTRIBUTE",
        "import traceback\nfr = next(traceback.walk_stack(None))[0]\nprint(object.__getattribute__(fr, input()))"
    );
    refused_by!(
        captured_locals,
        "PY-FRAME-LOCALS",
        "import traceback\ntraceback.StackSummary.extract(traceback.walk_stack(None), capture_locals=True)"
    );
    refused_by!(
        monitoring,
        "PY-SYS-TAMPERING",
        "import sys\nsys.monitoring.use_tool_id(3, 'x')"
    );
    benign!(
        match_own_class,
        "class P:\n    def __init__(self):\n        self.x = 0\nmatch P():\n    case P(x=0):\n        print('origin')"
    );
    benign!(
        extract_tb,
        "import traceback\ntry:\n    1 / 0\nexcept ZeroDivisionError as e:\n    print([f.lineno for f in traceback.extract_tb(e.__traceback__)])"
    );
}

mod hidden_algorithm {
    use super::*;
    refused_by!(
        bfs_over_attributes,
        "PY-DYNAMIC-INTERPRETER-ATTRIBUTE",
        "from collections import deque\nq = deque([print])\nwhile q:\n    node = q.popleft()\n    for name in dir(node):\n        q.append(getattr(node, name))"
    );
    refused_by!(
        getter_function,
        "PY-DYNAMIC-INTERPRETER-ATTRIBUTE",
        "def resolve(obj, name):\n    return getattr(obj, name)\nprint(resolve(print, input()))"
    );
    refused_by!(
        getter_on_module_list,
        "PY-DYNAMIC-INTERPRETER-ATTRIBUTE",
        "import operator, sys, gc\nkey = operator.attrgetter(input())\nprint(sorted([sys, gc], key=key))"
    );
    refused_by!(
        repeated_interpreter_list,
        "PY-DYNAMIC-INTERPRETER-ATTRIBUTE",
        "names = input().split()\nobjs = [print] * len(names)\nprint(list(map(getattr, objs, names)))"
    );
    refused_by!(
        two_level_namespace,
        "PY-DYNAMIC-INTERPRETER-ATTRIBUTE",
        "memo = globals()\ndef solve(key, sub):\n    return memo[key].__dict__[sub]"
    );
    refused_by!(
        host_module_table,
        "PY-DYNAMIC-INTERPRETER-ATTRIBUTE",
        "import gc\ntable = vars(gc)\nprint(table[input()]())"
    );
    benign!(
        bfs_grid,
        "from collections import deque\nq = deque([(0, 0)])\nseen = {(0, 0)}\nwhile q:\n    r, c = q.popleft()\n    for n in ((r + 1, c), (r, c + 1)):\n        if n not in seen and max(n) < 3:\n            seen.add(n)\n            q.append(n)\nprint(len(seen))"
    );
    benign!(
        sort_records_by_input_field,
        "from operator import attrgetter\nclass P:\n    def __init__(self, n):\n        self.n = n\npeople = [P(2), P(1)]\nprint(sorted(people, key=attrgetter(input())))"
    );
    benign!(
        own_getter_function,
        "def field(obj, name):\n    return getattr(obj, name)\nclass C:\n    x = 1\nprint(field(C(), input()))"
    );
}

mod signals {
    use super::*;
    refused_by!(
        signal_reached_through_asyncio,
        "PY-IMPORT-NATIVE",
        "import asyncio.runners as r\nr.signal.signal(15, 1)"
    );
    refused_by!(
        signal_imported_from_asyncio,
        "PY-IMPORT-NATIVE",
        "from asyncio.unix_events import signal as s\ns.signal(15, 1)"
    );
    refused_by!(
        unittest_handler,
        "PY-SIGNAL-HANDLER",
        "import unittest\nunittest.installHandler()"
    );
    refused_by!(
        bare_except_forever,
        "PY-SWALLOWED-INTERRUPT",
        "while 1:\n    try:\n        work()\n    except:\n        continue"
    );
    refused_by!(
        finally_continue,
        "PY-SWALLOWED-INTERRUPT",
        "while True:\n    try:\n        work()\n    finally:\n        continue"
    );
    refused_by!(
        suppress_forever,
        "PY-SWALLOWED-INTERRUPT",
        "import contextlib\nwhile True:\n    with contextlib.suppress(KeyboardInterrupt):\n        work()"
    );
    refused_by!(
        except_star_forever,
        "PY-SWALLOWED-INTERRUPT",
        "while True:\n    try:\n        work()\n    except* BaseException:\n        pass"
    );
    benign!(
        read_until_eof,
        "while True:\n    try:\n        line = input()\n    except (EOFError, KeyboardInterrupt):\n        break\n    print(line)"
    );
    benign!(
        reraise_forever,
        "while True:\n    try:\n        work()\n    except BaseException:\n        raise"
    );
    benign!(
        suppress_value_error,
        "import contextlib\nwith contextlib.suppress(ValueError):\n    int('x')"
    );
}
