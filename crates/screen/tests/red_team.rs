//! Red-team cases written apart from the corpus: escape attempts spread over
//! every technique family (and a few beyond) that must be refused, and
//! ordinary judge and playground programs that must pass, one test per case.
//! They guard generalisation: the product is judged on programs it has not
//! seen, so these never repeat a corpus file's spelling.

#[macro_use]
mod support;

mod escapes {

    escape!(
        type_subclasses_unbound,
        "for c in type.__subclasses__(object):\n    print(c)"
    );
    escape!(
        vars_type_subclasses,
        "subs = vars(type)['__subcl' + 'asses__'](object)"
    );
    escape!(
        object_subclasses_direct,
        "print([c.__name__ for c in object.__subclasses__()])"
    );
    escape!(
        list_class_base_walk,
        "k = [].__class__.__base__\nfor s in k.__subclasses__():\n    pass"
    );
    escape!(
        type_dict_subclasses_lookup,
        "f = type.__dict__['__subclasses__']\nprint(f(object))"
    );
    escape!(
        getattr_chr_map_subclasses,
        "n = ''.join(map(chr, [95, 95, 115, 117, 98, 99, 108, 97, 115, 115, 101, 115, 95, 95]))\nprint(getattr(object, n)())"
    );
    escape!(
        getattr_unfoldable_pair,
        "a = ''.join(chr(c + 1) for c in [94, 94, 102, 107, 110, 97, 96, 107, 114, 94, 94])\nb = ''.join(chr(c + 1) for c in [94, 94, 98, 110, 99, 100, 94, 94])\nf = lambda: 0\ng = getattr(getattr(f, b), 'co_consts')\nh = getattr(print, a)"
    );
    escape!(
        getattr_xor_decoded_name,
        "key = 7\nname = ''.join(chr(ord(c) ^ key) for c in 'XXtredkfttbtXX')\nx = getattr(object, name)"
    );
    escape!(
        str_translate_name,
        "t = str.maketrans('abc', '_sl')\nn = 'aaXubcYaXXeXaa'\nprint(getattr((), n.translate(t)))"
    );
    escape!(
        attrgetter_computed,
        "import operator\nname = input()\nprint(operator.attrgetter(name)(print))"
    );
    escape!(
        methodcaller_computed,
        "import operator\nm = input()\nprint(operator.methodcaller(m)(object))"
    );
    escape!(
        getattribute_computed,
        "n = input()\nprint(object.__getattribute__(print, n))"
    );
    escape!(print_self_builtins, "b = print.__self__\nb.exec('1')");
    escape!(
        exit_class_init_globals,
        "g = exit.__class__.__init__.__globals__\nprint(g)"
    );
    escape!(
        quitter_call_globals,
        "print(quit.__call__.__globals__['sys'])"
    );
    escape!(
        subclasses_via_mro_index,
        "x = ''.__class__.__mro__[1].__subclasses__()"
    );
    escape!(
        dict_class_walk_popen,
        "for c in {}.__class__.__base__.__subclasses__():\n    if c.__name__ == 'Popen':\n        c(['id'])"
    );
    escape!(
        reduce_ex_copyreg,
        "x = (1).__reduce_ex__(2)[0]\nprint(x.__globals__)"
    );
    escape!(
        func_builtins_attr,
        "def f():\n    pass\nprint(f.__builtins__['eval'])"
    );
    escape!(
        func_globals_builtins,
        "def f():\n    pass\nf.__globals__['__builtins__']"
    );
    escape!(
        generator_gi_frame_back,
        "def g():\n    yield 1\nit = g()\nnext(it)\nprint(it.gi_frame.f_back)"
    );
    escape!(
        coroutine_cr_frame_globals,
        "async def c():\n    pass\nco = c()\nprint(co.cr_frame.f_globals)\nco.close()"
    );
    escape!(
        async_gen_ag_frame,
        "async def a():\n    yield 1\nprint(a().ag_frame)"
    );
    escape!(
        traceback_tb_frame_globals,
        "try:\n    raise ValueError\nexcept ValueError as err:\n    tb = err.__traceback__\n    print(tb.tb_frame.f_globals['__builtins__'])"
    );
    escape!(
        sys_exc_info_frame,
        "import sys\ntry:\n    1/0\nexcept:\n    f = sys.exc_info()[2].tb_frame\n    print(f.f_back)"
    );
    escape!(
        sys_getframe_alias,
        "from sys import _getframe as gf\nprint(gf(0).f_locals)"
    );
    escape!(
        inspect_currentframe,
        "import inspect\nprint(inspect.currentframe().f_back.f_globals)"
    );
    escape!(
        inspect_from_import_stack,
        "from inspect import stack\nprint(stack())"
    );
    escape!(
        traceback_walk_stack,
        "import traceback\nfor fr, _ in traceback.walk_stack(None):\n    print(fr.f_globals)"
    );
    escape!(
        loader_load_module,
        "m = __loader__.load_module('o' + 's')\nm.system('id')"
    );
    escape!(
        spec_loader_load,
        "__spec__.loader.load_module('posix').system('id')"
    );
    escape!(
        importlib_util_spec,
        "import importlib.util as u\nspec = u.find_spec('os')\nm = u.module_from_spec(spec)"
    );
    escape!(
        from_importlib_import_import_module,
        "from importlib import import_module as im\nim('subprocess').run(['id'])"
    );
    escape!(
        builtins_dict_import,
        "__builtins__.__dict__['__import__']('os').system('id')"
    );
    escape!(vars_builtins_eval, "vars(__builtins__)['eval']('1+1')");
    escape!(
        globals_builtins_subscript,
        "b = globals()['__builtins__']\nprint(b)"
    );
    escape!(
        sys_modules_get,
        "import sys\nos = sys.modules.get('os')\nos.system('id')"
    );
    escape!(
        typing_sys_modules,
        "import typing\ntyping.sys.modules['os'].system('id')"
    );
    escape!(
        random_os_attr_from_import,
        "from random import _os\n_os.system('id')"
    );
    escape!(logging_os_attr, "import logging\nlogging.os.system('id')");
    escape!(
        collections_sys_reach,
        "import collections\nm = collections._sys.modules\nm['subprocess'].getoutput('id')"
    );
    escape!(
        dataclasses_sys_path_insert,
        "import dataclasses\ndataclasses.sys.path.insert(0, '/tmp')"
    );
    escape!(
        posixpath_os_reach,
        "import posixpath\nposixpath.os.system('id')"
    );
    escape!(
        decorator_eval,
        "@eval\n@str.strip\n@lambda f: ' 1 '\ndef x():\n    pass"
    );
    escape!(
        exec_compile_result,
        "code = compile('print(1)', '<s>', 'exec')\nexec(code)"
    );
    escape!(exec_alias_via_dict, "run = {'e': exec}['e']\nrun('x = 1')");
    escape!(
        lambda_default_import,
        "(lambda imp=__import__: imp('os').system('id'))()"
    );
    escape!(lambda_default_eval, "f = lambda e=eval: e('1')\nf()");
    escape!(map_exec, "list(map(exec, ['x = 1']))");
    escape!(code_interactive_console, "import code\ncode.interact()");
    escape!(codeop_compile, "import codeop\ncodeop.compile_command('1')");
    escape!(
        runpy_run_path,
        "from runpy import run_path\nrun_path('/tmp/x.py')"
    );
    escape!(
        types_function_from_code,
        "import types\nf = types.FunctionType(compile('1', 'x', 'eval'), {})"
    );
    escape!(
        code_replace_consts,
        "def f():\n    return 1\nf.__code__ = f.__code__.replace(co_consts=(None, 2))"
    );
    escape!(
        timeit_stmt,
        "import timeit\ntimeit.timeit('__import__(\"os\").system(\"id\")', number=1)"
    );
    escape!(
        string_template_import_in_fstring,
        "import os\nprint(f'{os.getcwd()}')"
    );
    escape!(
        pickle_loads_alias,
        "from pickle import loads as l\nl(b'cos\\nsystem\\n(S\"id\"\\ntR.')"
    );
    escape!(
        marshal_loads_code,
        "import marshal, types\ntypes.FunctionType(marshal.loads(b'\\xe3'), {})()"
    );
    escape!(
        reduce_method_class,
        "import pickle\nclass P:\n    def __reduce__(self):\n        return (print, ('hi',))\npickle.loads(pickle.dumps(P()))"
    );
    escape!(
        copyreg_constructor,
        "import copyreg\ncopyreg.dispatch_table"
    );
    escape!(shelve_open, "import shelve\nshelve.open('db')");
    escape!(breakpoint_call, "x = 1\nbreakpoint()");
    escape!(help_call, "help()");
    escape!(pydoc_pager, "import pydoc\npydoc.pager('x')");
    escape!(pdb_run, "import pdb\npdb.run('1')");
    escape!(help_alias, "h = help\nh('os')");
    escape!(
        io_open_proc_environ,
        "import io\nprint(io.open('/proc/self/environ').read())"
    );
    escape!(open_proc_mem_rw, "f = open('/proc/self/mem', 'rb+')");
    escape!(
        pathlib_read_passwd,
        "from pathlib import Path\nprint(Path('/etc/passwd').read_text())"
    );
    escape!(shutil_rmtree, "import shutil\nshutil.rmtree('/tmp')");
    escape!(tempfile_os, "import tempfile\ntempfile._os.system('id')");
    escape!(glob_root, "import glob\nprint(glob.glob('/*'))");
    escape!(
        codecs_open_shadow,
        "import codecs\nprint(codecs.open('/etc/shadow').read())"
    );
    escape!(
        open_proc_via_concat,
        "p = '/pr' + 'oc/self/' + 'cmdline'\nprint(open(p).read())"
    );
    escape!(
        fileio_proc,
        "import io\nprint(io.FileIO('/proc/self/environ').read())"
    );
    escape!(
        os_open_fd,
        "import os\nfd = os.open('/etc/passwd', os.O_RDONLY)"
    );
    escape!(open_dev_tcp, "f = open('/dev/tcp/10.0.0.1/80', 'w')");
    escape!(
        tokenize_open_secret,
        "import tokenize\nprint(tokenize.open('/run/secrets/token').read())"
    );
    escape!(
        socket_from_import,
        "from socket import socket as S\ns = S()\ns.connect(('10.0.0.1', 80))"
    );
    escape!(
        urllib_request_urlopen,
        "from urllib.request import urlopen\nurlopen('http://169.254.169.254/latest/meta-data/')"
    );
    escape!(
        http_client_conn,
        "import http.client as hc\nc = hc.HTTPConnection('example.com')\nc.request('GET', '/')"
    );
    escape!(
        xmlrpc_client,
        "import xmlrpc.client\nxmlrpc.client.ServerProxy('http://x')"
    );
    escape!(
        asyncio_subprocess_exec,
        "import asyncio\nasync def m():\n    p = await asyncio.create_subprocess_exec('id')\nasyncio.run(m())"
    );
    escape!(
        asyncio_loop_connection,
        "import asyncio\nloop = asyncio.new_event_loop()\nloop.run_until_complete(loop.create_connection(asyncio.Protocol, '10.0.0.1', 80))"
    );
    escape!(
        multiprocessing_connection,
        "from multiprocessing.connection import Client\nClient(('10.0.0.1', 6000))"
    );
    escape!(signal_alarm_zero, "import signal\nsignal.alarm(0)");
    escape!(
        resource_setrlimit,
        "import resource\nresource.setrlimit(resource.RLIMIT_CPU, (-1, -1))"
    );
    escape!(pty_spawn, "import pty\npty.spawn('/bin/sh')");
    escape!(fcntl_ioctl, "import fcntl\nfcntl.ioctl(0, 0x5412, b'x')");
    escape!(mmap_anon, "import mmap\nm = mmap.mmap(-1, 4096)");
    escape!(
        ctypes_cdll_none,
        "import ctypes\nctypes.CDLL(None).system(b'id')"
    );
    escape!(
        ctypes_pythonapi,
        "from ctypes import pythonapi\nprint(pythonapi)"
    );
    escape!(
        subprocess_in_function_default,
        "def run(cmd, m=__import__('subprocess')):\n    return m.run(cmd)\nrun('id')"
    );
    escape!(os_fork_walrus, "if (o := __import__('os')):\n    o.fork()");
    escape!(
        gc_get_objects_modules,
        "import gc\nmods = [o for o in gc.get_objects() if type(o).__name__ == 'module']"
    );
    escape!(gc_referrers, "import gc\nprint(gc.get_referrers(print))");
    escape!(
        format_class_base,
        "print('{0.__class__.__base__}'.format(1))"
    );
    escape!(
        format_map_globals,
        "print('{f.__globals__}'.format_map({'f': print}))"
    );
    escape!(
        format_init_globals_index,
        "t = '{x.__init__.__globals__[sys]}'\nprint(t.format(x=exit))"
    );
    escape!(
        format_built_at_runtime,
        "fmt = '{0.' + '__class__' + '.__mro__}'\nprint(fmt.format(1))"
    );
    escape!(
        string_formatter_get_field,
        "import string\nstring.Formatter().get_field('0.__self__', [print], {})"
    );
    escape!(
        init_subclass_import,
        "class B:\n    def __init_subclass__(cls, **kw):\n        __import__('os').system('id')\nclass C(B):\n    pass"
    );
    escape!(
        metaclass_call_exec,
        "class M(type):\n    def __call__(cls, *a):\n        return exec(a[0])\nclass X(metaclass=M):\n    pass\nX('1')"
    );
    escape!(
        class_getitem_eval,
        "class G:\n    __class_getitem__ = eval\nG['1+1']"
    );
    escape!(
        property_getter_import,
        "class P:\n    x = property(__import__)\nprint(P)"
    );
    escape!(
        type_three_arg_dict_exec,
        "T = type('T', (), {'go': staticmethod(exec)})\nT.go('1')"
    );
    escape!(
        dunder_getattr_module_class,
        "class Q:\n    __getattr__ = staticmethod(__import__)\nQ().os"
    );
    escape!(
        decorator_factory_import,
        "def deco(f):\n    return f\n@deco\ndef g(m=__import__):\n    return m('os')\ng()"
    );
    escape!(
        math_bold_eval,
        "\u{1D41E}\u{1D42F}\u{1D41A}\u{1D425}('1+1')"
    );
    escape!(
        math_italic_exec,
        "\u{1D452}\u{1D465}\u{1D452}\u{1D450}('x = 1')"
    );
    escape!(
        fullwidth_attr_subclasses,
        "print(().__class__.__base__.__\u{FF53}\u{FF55}\u{FF42}\u{FF43}\u{FF4C}\u{FF41}\u{FF53}\u{FF53}\u{FF45}\u{FF53}__())"
    );
    escape!(
        fullwidth_import_stmt,
        "import \u{FF4F}\u{FF53}\n\u{FF4F}\u{FF53}.system('id')"
    );
    escape!(fullwidth_builtins_name, "print(__\u{FF42}uiltins__)");
    escape!(
        n_escape_import_name,
        "__import__('\\N{LATIN SMALL LETTER O}\\N{LATIN SMALL LETTER S}')"
    );
    escape!(
        n_escape_getattr_dunder,
        "getattr(print, '\\N{LOW LINE}\\N{LOW LINE}self\\N{LOW LINE}\\N{LOW LINE}')"
    );
    escape!(
        bytes_decode_import,
        "__import__(b'\\x6f\\x73'.decode()).system('id')"
    );
    escape!(
        bytearray_decode_attr,
        "n = bytearray([95, 95, 103, 108, 111, 98, 97, 108, 115, 95, 95]).decode()\nprint(getattr(print, n))"
    );
    escape!(
        int_to_bytes_name,
        "n = (0x6f73).to_bytes(2, 'big').decode()\n__import__(n)"
    );
    escape!(
        reversed_join_attr,
        "print(getattr(object, ''.join(reversed('__sessalcbus__')))())"
    );
    escape!(
        string_mult_slice,
        "n = '_' * 2 + 'globals' + '_' * 2\nprint(getattr(exit.__init__, n))"
    );
    escape!(
        slice_step_name,
        "n = 'X_X_XgXlXoXbXaXlXsX_X_'[1::2]\nprint(getattr(exit.__init__, n))"
    );
    escape!(
        percent_c_name,
        "n = '%c%c%s%c%c' % (95, 95, 'globals', 95, 95)\nprint(getattr(exit.__init__, n))"
    );
    escape!(
        str_from_bytes_codec,
        "n = str(b'__globals__', 'ascii')\nprint(getattr(exit.__init__, n))"
    );
    escape!(
        upper_lower_name,
        "n = '__GLOBALS__'.lower()\nprint(getattr(exit.__init__, n))"
    );
    escape!(
        rot13_codecs_encode,
        "import codecs\n__import__(codecs.encode('bf', 'rot_13'))"
    );
    escape!(
        hex_escape_in_attr_string,
        "print(getattr(exit.__init__, '\\x5f\\x5fglobals\\x5f\\x5f'))"
    );
    escape!(
        utf7_cookie_first_line,
        "# coding=utf-7\n+AGkAbQBwAG8AcgB0ACAAbwBz-"
    );
    escape!(
        cookie_second_line_foreign,
        "#!/usr/bin/env python3\n# -*- coding: utf_16 -*-\nprint(1)"
    );
    escape!(cookie_rot13, "# coding: rot13\nvzcbeg bf");
    escape!(formfeed_before_cookie, "\x0c# coding: utf-7\n+AGk-");
    escape!(
        lone_cr_hidden_import,
        "x = 1\r__import__('os').system('id')\r"
    );
    escape!(
        backslash_continuation_name,
        "__imp\\\nort__ = 1\nexec\\\n('1')"
    );
    escape!(
        semicolon_chain,
        "a = 1; b = __import__('subprocess'); b.run('id')"
    );
    escape!(nul_byte_after_payload, "import os\x00\nprint(1)");
    escape!(py2_print_exec, "exec 'import os'");
    escape!(tab_space_mix_hidden, "if True:\n\tpass\n        import os");
    escape!(
        bidi_override_comment,
        "x = 1 # \u{202E} }\u{2066} ;\nimport os"
    );
    escape!(
        match_statement_import,
        "match 1:\n    case 1:\n        m = __import__('os')"
    );
    escape!(comprehension_hidden_call, "[__import__(n) for n in ['os']]");
    escape!(
        walrus_getattr,
        "if (g := getattr) and (b := g(print, '__self__')):\n    pass"
    );
    escape!(genexp_next_exec, "next(exec(c) for c in ['x = 1'])");

    // second round: stdin-driven lookups, dotted-name strings, module reach
    escape!(
        func_builtins_dict_stdin,
        "def f():\n    pass\nb = getattr(f, input())\nb[input()](input())"
    );
    escape!(
        func_builtins_inline_stdin,
        "def f():\n    pass\ngetattr(f, input())[input()](input())"
    );
    escape!(
        method_builtins_stdin,
        "class A:\n    def m(self):\n        pass\ngetattr(A().m, input())[input()](input())"
    );
    escape!(
        stdin_chain_through_subscript,
        "def f():\n    pass\ng = getattr(f, input())\nb = g[input()]\ngetattr(b, input())(input())"
    );
    escape!(
        stdin_getattr_print_chain,
        "x = getattr(print, input())\ny = getattr(x, input())\ny(input())"
    );
    escape!(
        module_private_os_kill,
        "import logging\nlogging.os.kill(1, 9)"
    );
    escape!(
        uuid_os_reach_getpid,
        "import uuid\nuuid.os.kill(uuid.os.getppid(), 9)"
    );
    escape!(
        asyncio_subprocess_module,
        "import asyncio\nasyncio.subprocess.PIPE"
    );
    escape!(
        logging_dictconfig_factory,
        "import logging.config\nlogging.config.dictConfig({'version': 1, 'handlers': {'h': {'()': 'os.system', 'command': 'id'}}})"
    );
    escape!(
        logging_config_listen,
        "import logging.config\nt = logging.config.listen(9999)\nt.start()"
    );
    escape!(
        resolve_name_string_ext,
        "import logging.config\nlogging.config.dictConfig({'version': 1, 'root': {'handlers': []}, 'x': 'ext://subprocess.getoutput'})"
    );
    escape!(
        mock_patch_target_string,
        "from unittest import mock\nwith mock.patch('subprocess.getoutput') as g:\n    pass"
    );
    escape!(
        type_hints_eval,
        "import typing\ndef f(x: \"__import__('os').system('id')\"):\n    pass\ntyping.get_type_hints(f)"
    );
    escape!(
        forward_ref_evaluate,
        "import typing\ntyping.ForwardRef(\"__import__('os')\")._evaluate(globals(), None, frozenset())"
    );
    escape!(help_passed_as_value, "list(map(help, ['os']))");
    escape!(breakpoint_in_list, "hooks = [breakpoint]\nhooks[0]()");
    escape!(
        wsgiref_server,
        "from wsgiref.simple_server import make_server\nmake_server('', 8000, lambda e, s: []).serve_forever()"
    );
    escape!(
        sys_dict_modules,
        "import sys\nsys.__dict__['modules']['os'].system('id')"
    );
    escape!(
        vars_sys_modules,
        "import sys\nvars(sys)['modules']['posix'].system('id')"
    );
    escape!(format_from_stdin, "fmt = input()\nprint(fmt.format(print))");
    escape!(
        getattr_default_builtins,
        "print(getattr(print, '__self__', None))"
    );
    escape!(
        setattr_builtin_patch,
        "import sys\nsetattr(sys, 'excepthook', print)"
    );
    escape!(
        loop_var_dunder_choice,
        "for n in ['__self__']:\n    print(getattr(print, n))"
    );
    escape!(
        class_attr_alias_eval,
        "class K:\n    run = eval\nK.run('1')"
    );
    escape!(tuple_unpack_eval, "a, b = eval, exec\na('1')");
    escape!(star_import_builtins, "from builtins import *\nprint(1)");
    escape!(
        dict_get_builtins,
        "f = globals().get('__builtins__')\nprint(f)"
    );
    escape!(
        aug_assign_name_build,
        "n = ''\nfor c in (95, 95, 115, 101, 108, 102, 95, 95):\n    n += chr(c)\nprint(getattr(print, n))"
    );
    escape!(
        while_loop_name_build,
        "n = ''\ni = 0\ncodes = [95, 95, 115, 101, 108, 102, 95, 95]\nwhile i < len(codes):\n    n = n + chr(codes[i])\n    i += 1\nprint(getattr(print, n))"
    );
    escape!(
        os_environ_via_posixpath,
        "import posixpath\nprint(posixpath.expandvars('$HOME'))"
    );
    escape!(
        signal_via_asyncio_loop,
        "import asyncio\nasyncio.get_event_loop().add_signal_handler(15, print)"
    );
    escape!(
        atexit_register_alias,
        "import atexit\natexit.register(print, 'x')\natexit._run_exitfuncs\nimport os"
    );
    escape!(
        sqlite_load_extension,
        "import sqlite3\nc = sqlite3.connect(':memory:')\nc.enable_load_extension(True)\nc.load_extension('/tmp/evil.so')"
    );
    escape!(
        zipfile_write_pth,
        "import zipfile\nwith open('evil.pth', 'w') as f:\n    f.write('import os')"
    );
    escape!(
        json_object_hook_eval,
        "import json\njson.loads('{\"a\": \"1\"}', object_hook=lambda d: eval(d['a']))"
    );
    escape!(exec_via_sorted_key, "sorted(['1'], key=exec)");
    escape!(
        thread_target_system,
        "import threading\nthreading.Thread(target=__import__('os').system, args=('id',)).start()"
    );
    escape!(
        weakref_finalize_system,
        "import weakref\nclass A:\n    pass\na = A()\nweakref.finalize(a, getattr(print, input()), input())"
    );
    escape!(
        globals_alias_stdin_chain,
        "g = globals()\nb = g[input()]\nprint(getattr(b, input())(input()))"
    );
    escape!(
        namespace_item_dict_stdin,
        "g = globals()[input()]\nf = g.__dict__[input()]\nf(input())"
    );
    escape!(
        instance_dict_stdin_key,
        "class A:\n    pass\nv = vars(A)[input()]\nprint(getattr(v, input()))"
    );
    escape!(
        partial_getattr_builtin,
        "import functools\nf = functools.partial(getattr, print)\nprint(f(input()))"
    );
    escape!(
        reduce_getattr_builtin_stdin,
        "import functools\nprint(functools.reduce(getattr, input().split(), print))"
    );
    escape!(
        attrgetter_bound_then_applied,
        "import operator\ng = operator.attrgetter(input())\nprint(g(print))"
    );
    escape!(
        type_of_builtin_dir_walk,
        "x = type(print)\nfor a in dir(x):\n    print(getattr(x, a))"
    );
}

mod benign_programs {

    benign!(
        two_sum_stdin,
        "import sys\ndata = sys.stdin.read().split()\nn, target = int(data[0]), int(data[1])\nnums = list(map(int, data[2:2 + n]))\nseen = {}\nfor i, x in enumerate(nums):\n    if target - x in seen:\n        print(seen[target - x], i)\n        break\n    seen[x] = i"
    );
    benign!(
        input_loop_until_eof,
        "while True:\n    try:\n        line = input()\n    except EOFError:\n        break\n    print(line[::-1])"
    );
    benign!(
        stderr_debug_print,
        "import sys\ndef debug(*a):\n    print(*a, file=sys.stderr)\ndebug('n =', 5)\nprint(5 * 5)"
    );
    benign!(
        recursion_limit_dfs,
        "import sys\nsys.setrecursionlimit(1 << 20)\nadj = {0: [1, 2], 1: [3], 2: [], 3: []}\nseen = set()\ndef dfs(u):\n    seen.add(u)\n    for v in adj[u]:\n        if v not in seen:\n            dfs(v)\ndfs(0)\nprint(sorted(seen))"
    );
    benign!(
        main_guard,
        "def solve(a, b):\n    return a * b\n\nif __name__ == '__main__':\n    print(solve(6, 7))"
    );
    benign!(
        vector_dunders,
        "class Vec:\n    __slots__ = ('x', 'y')\n    def __init__(self, x, y):\n        self.x, self.y = x, y\n    def __add__(self, o):\n        return Vec(self.x + o.x, self.y + o.y)\n    def __eq__(self, o):\n        return (self.x, self.y) == (o.x, o.y)\n    def __hash__(self):\n        return hash((self.x, self.y))\n    def __repr__(self):\n        return f'Vec({self.x}, {self.y})'\n    def __iter__(self):\n        yield self.x\n        yield self.y\nprint(Vec(1, 2) + Vec(3, 4), list(Vec(5, 6)))"
    );
    benign!(
        dataclass_ordering,
        "from dataclasses import dataclass, asdict, field\n@dataclass(order=True, frozen=True)\nclass Item:\n    priority: int\n    name: str = field(compare=False)\nitems = sorted([Item(3, 'c'), Item(1, 'a')])\nprint([asdict(i) for i in items])"
    );
    benign!(
        typing_generics,
        "from typing import Generic, TypeVar, Optional, Dict, List, Callable\nT = TypeVar('T')\nclass Box(Generic[T]):\n    def __init__(self, v: T) -> None:\n        self.v = v\n    def map(self, f: Callable[[T], T]) -> 'Box[T]':\n        return Box(f(self.v))\ndef first(xs: List[int]) -> Optional[int]:\n    return xs[0] if xs else None\nprint(Box(2).map(lambda v: v * 3).v, first([]))"
    );
    benign!(
        itertools_combos,
        "from itertools import permutations, combinations, product, accumulate, groupby, chain\nprint(list(permutations('abc', 2))[:3])\nprint(list(accumulate([1, 2, 3])))\nprint([(k, len(list(g))) for k, g in groupby('aaabcc')])\nprint(list(chain.from_iterable([[1], [2, 3]])))\nprint(sum(1 for _ in product(range(3), repeat=2)))"
    );
    benign!(
        functools_reduce_partial,
        "from functools import reduce, partial, cmp_to_key, cache\nimport operator\nprint(reduce(operator.mul, range(1, 6)))\npow2 = partial(pow, 2)\nprint(pow2(10))\nprint(sorted([3, 1, 2], key=cmp_to_key(lambda a, b: b - a)))\n@cache\ndef f(n):\n    return 1 if n < 2 else f(n - 1) + f(n - 2)\nprint(f(50))"
    );
    benign!(
        collections_tour,
        "from collections import deque, defaultdict, OrderedDict, namedtuple, ChainMap\nq = deque([1, 2, 3])\nq.rotate(1)\nd = defaultdict(list)\nd['a'].append(1)\nP = namedtuple('P', 'x y')\nprint(q, dict(d), P(1, 2)._asdict(), ChainMap({'a': 1}, {'b': 2})['b'])\nod = OrderedDict(a=1)\nod.move_to_end('a')"
    );
    benign!(
        regex_tokenizer,
        "import re\nTOKEN = re.compile(r'\\s*(?:(\\d+)|(.))')\ndef tokens(s):\n    for num, op in TOKEN.findall(s):\n        yield int(num) if num else op\nprint(list(tokens('12 + 3 * (4 - 1)')))\nprint(re.sub(r'(?P<w>\\w+)', lambda m: m.group('w').upper(), 'hi there'))"
    );
    benign!(
        json_roundtrip,
        "import json\ndoc = json.loads('{\"a\": [1, 2, {\"b\": null}]}')\ndoc['c'] = True\nprint(json.dumps(doc, indent=2, sort_keys=True))"
    );
    benign!(
        math_geometry,
        "import math\ndef area(r):\n    return math.pi * r ** 2\nprint(round(area(2), 3), math.gcd(12, 18), math.isqrt(99), math.hypot(3, 4), math.log2(1024))"
    );
    benign!(
        random_shuffle_sim,
        "import random\nrandom.seed(42)\ndeck = list(range(52))\nrandom.shuffle(deck)\nhits = sum(1 for _ in range(1000) if random.random() < 0.5)\nprint(deck[:5], hits, random.choice('abc'), random.randint(1, 6))"
    );
    benign!(
        datetime_diff,
        "from datetime import datetime, timedelta, date\nd1 = date(2024, 1, 1)\nd2 = d1 + timedelta(days=45)\nprint((d2 - d1).days, d2.isoformat(), datetime(2024, 2, 29, 12).strftime('%A %H:%M'))"
    );
    benign!(
        doctest_in_file,
        "def add(a, b):\n    \"\"\"Add two numbers.\n\n    >>> add(2, 3)\n    5\n    >>> add('a', 'b')\n    'ab'\n    \"\"\"\n    return a + b\n\nif __name__ == '__main__':\n    import doctest\n    doctest.testmod(verbose=True)"
    );
    benign!(
        unittest_in_file,
        "import unittest\ndef is_palindrome(s):\n    s = ''.join(c.lower() for c in s if c.isalnum())\n    return s == s[::-1]\nclass TestPal(unittest.TestCase):\n    def test_yes(self):\n        self.assertTrue(is_palindrome('A man, a plan, a canal: Panama'))\n    def test_no(self):\n        with self.assertRaises(AssertionError):\n            self.assertTrue(is_palindrome('abc'))\nif __name__ == '__main__':\n    unittest.main()"
    );
    benign!(
        getattr_constant_own_object,
        "class Shape:\n    def area(self):\n        return 0\n    def name(self):\n        return type(self).__name__\ns = Shape()\nfor method in ('area', 'name'):\n    print(getattr(s, method)())\nprint(hasattr(s, 'area'), getattr(s, 'missing', None))"
    );
    benign!(
        visitor_dispatch_getattr,
        "class Visitor:\n    def visit(self, node):\n        meth = getattr(self, 'visit_' + type(node).__name__, self.generic)\n        return meth(node)\n    def visit_int(self, n):\n        return n * 2\n    def generic(self, n):\n        return n\nprint(Visitor().visit(21), Visitor().visit('x'))"
    );
    benign!(
        attrgetter_sort,
        "from operator import attrgetter, itemgetter, methodcaller\nfrom collections import namedtuple\nS = namedtuple('S', 'name grade')\nrows = [S('b', 2), S('a', 3)]\nprint(sorted(rows, key=attrgetter('grade')), list(map(methodcaller('upper'), ['x'])), itemgetter(1)([1, 2]))"
    );
    benign!(
        heapq_dijkstra,
        "import heapq\ndef dijkstra(g, s):\n    dist = {s: 0}\n    pq = [(0, s)]\n    while pq:\n        d, u = heapq.heappop(pq)\n        if d > dist.get(u, float('inf')):\n            continue\n        for v, w in g.get(u, []):\n            nd = d + w\n            if nd < dist.get(v, float('inf')):\n                dist[v] = nd\n                heapq.heappush(pq, (nd, v))\n    return dist\nprint(dijkstra({'a': [('b', 1), ('c', 4)], 'b': [('c', 2)]}, 'a'))"
    );
    benign!(
        bisect_lis,
        "from bisect import bisect_left\ndef lis(a):\n    tails = []\n    for x in a:\n        i = bisect_left(tails, x)\n        if i == len(tails):\n            tails.append(x)\n        else:\n            tails[i] = x\n    return len(tails)\nprint(lis([10, 9, 2, 5, 3, 7, 101, 18]))"
    );
    benign!(
        string_processing,
        "import string\ntext = 'The quick brown fox jumps over the lazy dog'\nwords = text.lower().split()\nprint(' '.join(w.capitalize() for w in words))\nprint(set(string.ascii_lowercase) <= set(text.lower()))\nprint(text.translate(str.maketrans('', '', string.punctuation)).count('o'))\nprint('{:>10}|{:<5}|{:^7}'.format('a', 'b', 'c'))"
    );
    benign!(
        caesar_cipher,
        "def caesar(s, k):\n    out = []\n    for ch in s:\n        if ch.isalpha():\n            base = ord('a') if ch.islower() else ord('A')\n            out.append(chr((ord(ch) - base + k) % 26 + base))\n        else:\n            out.append(ch)\n    return ''.join(out)\nprint(caesar('Hello, World', 3))"
    );
    benign!(
        chr_ord_alphabet,
        "print(''.join(map(chr, range(97, 123))))\nprint([ord(c) for c in 'abc'])\nprint(bytes([72, 105]).decode())"
    );
    benign!(
        enum_and_match,
        "from enum import Enum, auto\nclass Color(Enum):\n    RED = auto()\n    GREEN = auto()\ndef describe(c):\n    match c:\n        case Color.RED:\n            return 'warm'\n        case _:\n            return 'cool'\nprint(describe(Color.RED), [c.name for c in Color])"
    );
    benign!(
        abc_protocol,
        "from abc import ABC, abstractmethod\nclass Animal(ABC):\n    @abstractmethod\n    def speak(self) -> str: ...\nclass Dog(Animal):\n    def speak(self):\n        return 'woof'\nprint(Dog().speak(), isinstance(Dog(), Animal))"
    );
    benign!(
        context_manager_class,
        "from contextlib import contextmanager, suppress\n@contextmanager\ndef tag(name):\n    print(f'<{name}>')\n    yield\n    print(f'</{name}>')\nwith tag('b'):\n    print('bold')\nwith suppress(KeyError):\n    {}['x']"
    );
    benign!(
        generator_pipeline,
        "def read(n):\n    yield from range(n)\ndef squares(it):\n    for x in it:\n        yield x * x\ndef evens(it):\n    return (x for x in it if x % 2 == 0)\nprint(sum(evens(squares(read(100)))))"
    );
    benign!(
        matrix_mult,
        "def matmul(a, b):\n    return [[sum(x * y for x, y in zip(r, c)) for c in zip(*b)] for r in a]\nprint(matmul([[1, 2], [3, 4]], [[5, 6], [7, 8]]))"
    );
    benign!(
        fraction_decimal,
        "from fractions import Fraction\nfrom decimal import Decimal, getcontext\ngetcontext().prec = 30\nprint(Fraction(1, 3) + Fraction(1, 6), Decimal(1) / Decimal(7))"
    );
    benign!(
        statistics_summary,
        "import statistics\ndata = [2, 4, 4, 4, 5, 5, 7, 9]\nprint(statistics.mean(data), statistics.median(data), statistics.pstdev(data))"
    );
    benign!(
        class_property_classmethod,
        "class Temp:\n    def __init__(self, c):\n        self._c = c\n    @property\n    def f(self):\n        return self._c * 9 / 5 + 32\n    @f.setter\n    def f(self, v):\n        self._c = (v - 32) * 5 / 9\n    @classmethod\n    def zero(cls):\n        return cls(0)\n    @staticmethod\n    def unit():\n        return 'C'\nt = Temp.zero()\nt.f = 212\nprint(t._c, Temp.unit())"
    );
    benign!(
        memo_dict_dp,
        "memo = {}\ndef ways(n):\n    if n < 0:\n        return 0\n    if n == 0:\n        return 1\n    if n not in memo:\n        memo[n] = ways(n - 1) + ways(n - 2) + ways(n - 3)\n    return memo[n]\nprint(ways(30))"
    );
    benign!(
        union_find_class,
        "class DSU:\n    def __init__(self, n):\n        self.p = list(range(n))\n    def find(self, x):\n        while self.p[x] != x:\n            self.p[x] = self.p[self.p[x]]\n            x = self.p[x]\n        return x\n    def union(self, a, b):\n        self.p[self.find(a)] = self.find(b)\nd = DSU(5)\nd.union(0, 1)\nprint(d.find(0) == d.find(1))"
    );
    benign!(
        textwrap_pprint,
        "import textwrap, pprint\nprint(textwrap.fill('lorem ipsum ' * 10, width=30))\npprint.pprint({'k': list(range(20))}, width=40)"
    );
    benign!(
        array_struct_pack,
        "import struct, array\nb = struct.pack('<iH', 7, 3)\nprint(struct.unpack('<iH', b), array.array('i', [1, 2, 3]).tolist())"
    );
    benign!(
        fast_io_readline,
        "import sys\ninput = sys.stdin.readline\nt = int(input() or 1)\nout = []\nfor _ in range(t):\n    out.append(str(sum(map(int, (input() or '0').split()))))\nsys.stdout.write('\\n'.join(out) + '\\n')"
    );
    benign!(
        binary_search_answer,
        "def ok(x):\n    return x * x >= 10 ** 12\nlo, hi = 0, 10 ** 7\nwhile lo < hi:\n    mid = (lo + hi) // 2\n    if ok(mid):\n        hi = mid\n    else:\n        lo = mid + 1\nprint(lo)"
    );
    benign!(
        custom_exception_and_traceback_print,
        "class ParseError(Exception):\n    pass\ntry:\n    raise ParseError('bad token')\nexcept ParseError as e:\n    print(type(e).__name__, e.args)"
    );
    benign!(
        time_perf_counter,
        "import time\nstart = time.perf_counter()\ntotal = sum(i * i for i in range(10000))\nprint(total, time.perf_counter() - start >= 0)"
    );
    benign!(
        hashlib_digest,
        "import hashlib\nprint(hashlib.sha256(b'abc').hexdigest()[:16])"
    );
    benign!(
        repr_str_eq_class_docstring,
        "class Money:\n    '''An amount in cents.\n\n    >>> Money(150)\n    Money(150)\n    '''\n    def __init__(self, cents):\n        self.cents = cents\n    def __repr__(self):\n        return f'{type(self).__name__}({self.cents})'\n    def __lt__(self, other):\n        return self.cents < other.cents\nprint(sorted([Money(3), Money(1)]))"
    );
    benign!(
        nonlocal_closure_counter,
        "def counter():\n    n = 0\n    def inc():\n        nonlocal n\n        n += 1\n        return n\n    return inc\nc = counter()\nc(); c()\nprint(c())"
    );
    benign!(
        zip_longest_and_walrus,
        "from itertools import zip_longest\ndata = [1, 5, 9]\nif (n := len(data)) > 2:\n    print(n)\nprint(list(zip_longest('ab', 'xyz', fillvalue='-')))"
    );
    benign!(
        format_spec_fields,
        "row = {'name': 'ada', 'score': 93.456}\nprint('{name:<8}{score:>8.2f}'.format(**row))\nprint(f\"{row['name']!r:>10} {row['score']:.1e}\")\nprint('%-5s|%05d' % ('x', 42))"
    );
    benign!(
        dunder_class_name_reporting,
        "class Node:\n    def __init__(self, v, children=()):\n        self.v, self.children = v, list(children)\n    def __len__(self):\n        return 1 + sum(len(c) for c in self.children)\n    def __contains__(self, v):\n        return self.v == v or any(v in c for c in self.children)\nt = Node(1, [Node(2), Node(3, [Node(4)])])\nprint(len(t), 4 in t, t.__class__.__name__, Node.__doc__, Node.__init__.__name__)"
    );
    benign!(
        sorted_lambda_key_multi,
        "people = [('bob', 25), ('amy', 25), ('cal', 20)]\nprint(sorted(people, key=lambda p: (-p[1], p[0])))\nprint(max(people, key=lambda p: p[1])[0], min(map(len, ['aa', 'b'])))"
    );
    benign!(
        copy_and_deepcopy,
        "import copy\ngrid = [[0] * 3 for _ in range(3)]\ng2 = copy.deepcopy(grid)\ng2[0][0] = 1\nprint(grid[0][0], g2[0][0], copy.copy([1, 2]))"
    );
    benign!(
        bit_tricks,
        "def popcount(x):\n    c = 0\n    while x:\n        x &= x - 1\n        c += 1\n    return c\nprint(popcount(255), (1 << 10) - 1, bin(10), int('ff', 16), 5 ^ 3)"
    );
    benign!(
        io_stringio,
        "import io\nbuf = io.StringIO()\nprint('hello', file=buf)\nprint(buf.getvalue().strip())"
    );
    benign!(
        threading_lock_counter,
        "import threading\nlock = threading.Lock()\ntotal = 0\ndef work():\n    global total\n    for _ in range(1000):\n        with lock:\n            total += 1\nts = [threading.Thread(target=work) for _ in range(4)]\nfor t in ts:\n    t.start()\nfor t in ts:\n    t.join()\nprint(total)"
    );
    benign!(
        asyncio_gather,
        "import asyncio\nasync def sq(x):\n    await asyncio.sleep(0)\n    return x * x\nasync def main():\n    print(await asyncio.gather(*(sq(i) for i in range(5))))\nasyncio.run(main())"
    );
    benign!(
        sys_argv_and_exit,
        "import sys\nif len(sys.argv) > 5:\n    sys.exit('too many args')\nprint(len(sys.argv))"
    );
    benign!(
        open_relative_read,
        "try:\n    with open('input.txt') as fh:\n        print(fh.read())\nexcept FileNotFoundError:\n    print('no input')"
    );
    benign!(
        eval_word_in_strings,
        "ops = {'add': 'x + y', 'evaluate': 'expression'}\nprint('Please evaluate the expression', ops['evaluate'])\nprint('exec time:', 3, 'ms')"
    );
    benign!(
        str_methods_on_input_names,
        "name = 'system'\nprint(name.upper(), name.replace('sys', 'eco'), 'os'.join(['a', 'b']))"
    );

    // guards for the provenance heuristics: ordinary dispatch and formatting
    benign!(
        leetcode_harness_dispatch,
        "class Solution:\n    def twoSum(self, nums, target):\n        seen = {}\n        for i, x in enumerate(nums):\n            if target - x in seen:\n                return [seen[target - x], i]\n            seen[x] = i\nmethod = input() or 'twoSum'\nprint(getattr(Solution(), method)([2, 7, 11], 9))"
    );
    benign!(
        setattr_loop_constants,
        "class Cfg:\n    pass\nc = Cfg()\nfor name in ('width', 'height'):\n    setattr(c, name, 0)\nprint(vars(c))"
    );
    benign!(
        copy_function_metadata,
        "def deco(f):\n    def wrapper(*a):\n        return f(*a)\n    for attr in ('__name__', '__doc__'):\n        setattr(wrapper, attr, getattr(f, attr))\n    return wrapper\n@deco\ndef g(x):\n    return x\nprint(g.__name__)"
    );
    benign!(
        field_list_index,
        "class Row:\n    def __init__(self):\n        self.cells = [1, 2, 3]\nr = Row()\nfield = 'cells'\nfor i in range(3):\n    print(getattr(r, field)[i])"
    );
    benign!(
        built_format_template,
        "n = int(input() or 3)\na = list(range(n))\nprint(' '.join(['{:>3}'] * n).format(*a))\nw = 6\nfmt = '{:>' + str(w) + '}'\nprint(fmt.format('x'))"
    );
    benign!(
        file_and_version_strings,
        "files = ['data.txt', 'main.py', 'code.json', 'site.html']\nversion = '3.11.4'\nprint(files, version, 'see math.pi and sys.stdin', 'np.array')"
    );
    benign!(
        loop_built_strings,
        "s = ''\nfor ch in 'hello':\n    s += ch.upper()\nword = ''\ni = 0\nwhile i < 3:\n    word = word + chr(97 + i)\n    i += 1\nprint(s, word, getattr(s, 'lower')())"
    );
    benign!(
        builtins_as_values,
        "data = [[3, 1], [2]]\nprint(list(map(sorted, data)), sorted(data, key=len), list(map(str, [1, 2])))\nfrom collections import defaultdict\nd = defaultdict(list)\nprint(max(['a', 'bb'], key=len), d)"
    );
    benign!(
        attrgetter_field_from_input,
        "from operator import attrgetter\nfrom collections import namedtuple\nP = namedtuple('P', 'x y')\nkey = input() or 'x'\nprint(sorted([P(2, 1), P(1, 2)], key=attrgetter(key)))"
    );
    benign!(
        random_module_functions,
        "import random, math, typing\nrandom.seed(3)\nprint(random.random(), math.floor(2.5), typing.List[int])"
    );
    benign!(
        hackerrank_list_commands,
        "l = []\nfor _ in range(int(input() or 0)):\n    cmd, *args = input().split()\n    if cmd == 'print':\n        print(l)\n    else:\n        getattr(l, cmd)(*map(int, args))"
    );
    benign!(
        reduce_getattr_own_object,
        "import functools\nclass Node:\n    def __init__(self):\n        self.child = None\n        self.value = 1\nroot = Node()\nroot.child = Node()\nprint(functools.reduce(getattr, ['child', 'value'], root))"
    );
}
