// The npm piston-client, unchanged, against execgate up (EXECGATE_URL):
// runtimes, a clean run, a compiled C run and a refused run, read the way
// the client returns them (the response body, whatever its status).
import piston from "piston-client";

const client = piston({ server: process.env.EXECGATE_URL });
const show = (value) => JSON.stringify(value);
const check = (what, ok, value) => {
  if (!ok) {
    console.error(`piston-client: ${what} failed: ${show(value)}`);
    process.exit(1);
  }
  console.log(`piston-client: ${what}: ok`);
};

const runtimes = await client.runtimes();
check("runtimes", Array.isArray(runtimes) && runtimes.some((r) => r.language === "python"), runtimes);

// The client's defaults: -1 memory limits, args ["1", "2", "3"], no content type.
const clean = await client.execute("python", "import sys\nprint(6 * 7, sys.argv[1:])");
check("clean run", clean.run?.stdout === "42 ['1', '2', '3']\n" && clean.run?.code === 0, clean);

const c = await client.execute(
  "c",
  '#include <stdio.h>\nint main(int argc, char **argv) { printf("%d %s\\n", 6 * 7, argv[argc - 1]); return 0; }\n',
  { args: ["last"], stdin: "" },
);
check("compiled C run", c.compile?.code === 0 && c.run?.stdout === "42 last\n", c);

const refused = await client.execute("python", '__import__("o" + "s").system("id")');
check(
  "refused run",
  refused.run === undefined && typeof refused.message === "string" && refused.message.startsWith("code_rejected"),
  refused,
);
