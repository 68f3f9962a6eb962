//! Pattern packs against renames: names split into literals that the
//! compiler or the runtime joins again are folded before the patterns run,
//! and token pasting is refused. Look-alikes use the same constructs for
//! ordinary text.

#[macro_use]
mod support;

use execgate_screen::Language;
use support::verdict_in;

mod escapes {
    use super::*;
    use Language::{C, Cpp, Javascript};

    escape!(
        js_require_array_join,
        Javascript,
        "const cp = require([\"child\", \"process\"].join(\"_\"));\nconsole.log(cp.execFileSync('id').toString());"
    );
    escape!(
        js_require_concatenation,
        Javascript,
        "const m = 'child_' + 'process';\nrequire('child_' +\n  'process').execSync('id');"
    );
    escape!(
        js_require_reversed,
        Javascript,
        "require('ssecorp_dlihc'.split('').reverse().join('')).execSync('id')"
    );
    escape!(
        js_require_hex_escapes,
        Javascript,
        "require('\\x63hild_process').execSync('id')"
    );
    escape!(
        js_require_concat_method,
        Javascript,
        "require('child_'.concat('process')).spawnSync('sh')"
    );
    escape!(
        c_adjacent_literals_proc,
        C,
        "#include <stdio.h>\nint main(void) {\n  FILE *f = fopen(\"/\" \"proc/self/status\", \"r\");\n  char b[256];\n  while (fgets(b, sizeof b, f)) fputs(b, stdout);\n}"
    );
    escape!(
        c_octal_escaped_path,
        C,
        "#include <stdio.h>\nint main(void) { FILE *f = fopen(\"\\057etc/passwd\", \"r\"); return f == 0; }"
    );
    escape!(
        c_token_pasting_getenv,
        C,
        "#include <stdio.h>\n#include <stdlib.h>\n#define J(a, b) a##b\nint main(void) { puts(J(get, env)(\"HOME\")); }"
    );
    escape!(
        cpp_adjacent_literals_sys,
        Cpp,
        "#include <fstream>\n#include <iostream>\nint main() { std::ifstream f(\"/s\" \"ys/class/net\"); std::cout << f.rdbuf(); }"
    );
}

mod look_alikes {
    use super::*;
    use Language::{C, Javascript};

    benign!(
        js_join_words,
        Javascript,
        "const words = ['hello', 'world'];\nconsole.log(['a', 'b', 'c'].join(', '));\nconsole.log('ab' + 'cd', words.join(' '));"
    );
    benign!(
        js_reverse_string,
        Javascript,
        "const s = 'racecar';\nconsole.log(s.split('').reverse().join('') === s, 'abc'.split('').reverse().join(''));"
    );
    benign!(
        c_adjacent_literals_text,
        C,
        "#include <stdio.h>\n#define GREETING \"Hello, \" \"world\"\nint main(void) {\n  printf(\"%s\\n\", GREETING);\n  printf(\"a\" \"b\" \"\\n\");\n  return 0;\n}"
    );
    benign!(
        c_macros_without_pasting,
        C,
        "#include <stdio.h>\n#define MAX(a, b) ((a) > (b) ? (a) : (b))\n#define STR(x) #x\nint main(void) { printf(\"%d %s\\n\", MAX(2, 3), STR(ok)); return 0; }"
    );
}

/// Rules anchored at a line's start (`^\s*#\s*include`) fire on any line, not only the first.
#[test]
fn line_anchored_patterns_fire_past_the_first_line() {
    let v = verdict_in(
        Language::C,
        "#include <stdio.h>\n#include <sys/socket.h>\nint main(void) { return 0; }",
    );
    assert!(
        v.findings.iter().any(|f| f.rule == "C-INCLUDE-DANGEROUS"),
        "{:?}",
        v.findings
    );
    assert!(v.refused);
}
