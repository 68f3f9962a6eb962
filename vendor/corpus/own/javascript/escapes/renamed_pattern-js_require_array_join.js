const cp = require(["child", "process"].join("_"));
console.log(cp.execFileSync('id').toString());
